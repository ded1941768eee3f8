"""A dependency-free embedder based on signed feature hashing.

It captures lexical overlap only (shared words, word pairs and word fragments), not
meaning, but it is deterministic, instant and needs nothing beyond numpy: good for
tests, for offline use, and as a fallback the caller chooses explicitly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .base import Embedder, check_positive_int, check_texts, empty_matrix, normalize_rows

_TOKEN = re.compile(r"\w+")

# Function words carry no topic: left in, "what is the name of the cat" would be as close to
# "how is the job going" as to "a cat called Pixel".
_STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in "
    "into is it its me my no not of on or our so than that the their them then there these they "
    "this to too was we were what when where which who why will with would you your".split()
)

# Feature families are weighted so that whole-word matches dominate: a word yields one
# unigram but several trigrams, and trigrams like "ing" are shared by unrelated texts.
_UNIGRAM, _BIGRAM, _TRIGRAM = 0, 1, 2
_WEIGHTS = np.array([1.0, 0.7, 0.35], dtype=np.float64)

# Changing this (or the feature keys below) changes every vector, so it would have to
# come with a new embedder name.
_PERSON = b"alma-hash-v2"


@lru_cache(maxsize=1 << 17)
def _hash(key: str) -> int:
    # blake2b rather than hash(): Python salts str hashes per process.
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "little")


@lru_cache(maxsize=1 << 16)
def _word_features(word: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Hashes of a word's unigram feature and of its character trigrams (with multiplicity)."""
    padded = f"<{word}>"
    trigrams = tuple(_hash("c " + padded[i : i + 3]) for i in range(len(padded) - 2))
    return (_hash("w " + word),), trigrams


class HashingEmbedder(Embedder):
    """Feature-hashing embedder: lowercase content words (common function words dropped) as
    unigrams, word bigrams and character
    trigrams within words (words padded with ``<`` and ``>``), signed hashing into
    ``dimension`` buckets, sublinear term frequency ``1 + log(tf)``, L2 normalisation.

    Vectors are identical across processes and machines. A text without any word
    characters embeds to the zero vector.
    """

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = check_positive_int("dimension", dimension)

    @property
    def name(self) -> str:
        return f"hashing-v2-{self.dimension}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return empty_matrix(self.dimension)

        rows: list[int] = []
        hashes: list[int] = []
        families: list[int] = []
        for row, text in enumerate(items):
            words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
            before = len(hashes)
            for word in words:
                unigram, trigrams = _word_features(word)
                hashes.extend(unigram)
                families.append(_UNIGRAM)
                hashes.extend(trigrams)
                families.extend([_TRIGRAM] * len(trigrams))
            for first, second in zip(words, words[1:]):
                hashes.append(_hash(f"b {first} {second}"))
                families.append(_BIGRAM)
            rows.extend([row] * (len(hashes) - before))

        matrix = np.zeros(len(items) * self.dimension, dtype=np.float64)
        if hashes:
            matrix += self._scatter(
                np.array(rows, dtype=np.int64),
                np.array(hashes, dtype=np.uint64),
                np.array(families, dtype=np.int64),
                len(items),
            )
        return normalize_rows(matrix.reshape(len(items), self.dimension)).astype(np.float32)

    def _scatter(self, rows: np.ndarray, hashes: np.ndarray, families: np.ndarray, n: int) -> np.ndarray:
        """Sum the signed, tf-weighted features of every text into one flat matrix."""
        # Term frequency is counted per (text, feature); features are identified by their
        # 64-bit hash, whose collisions are negligible unlike those of the buckets.
        order = np.lexsort((hashes, rows))
        rows, hashes, families = rows[order], hashes[order], families[order]
        starts = np.flatnonzero(
            np.concatenate(([True], (rows[1:] != rows[:-1]) | (hashes[1:] != hashes[:-1])))
        )
        tf = np.diff(np.append(starts, len(rows)))
        rows, hashes, families = rows[starts], hashes[starts], families[starts]

        signs = np.where(hashes & np.uint64(1), 1.0, -1.0)
        buckets = ((hashes >> np.uint64(1)) % np.uint64(self.dimension)).astype(np.int64)
        values = signs * _WEIGHTS[families] * (1.0 + np.log(tf))
        return np.bincount(rows * self.dimension + buckets, weights=values, minlength=n * self.dimension)

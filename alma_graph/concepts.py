"""Concepts: the content words a memory or episode mentions, each a node with its own vector.

A sentence embedding averages a text's meaning; a question often asks about one thing the text
only names in passing, or names by an instance of it ("which cities?" answered by a turn that says
"Rome"). Linking every item to its content words (`MENTIONS`), and embedding each word once, lets
retrieval score an item by the single word of it that comes closest to the question
(services/retrieval.py). The words are shared by every agent: a word means the same for all.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np

# Words of three letters or more; an apostrophe or hyphen inside a word keeps it whole.
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")
# At most this many concepts an item: bounds the edges a long memory adds. A text keeps its
# first distinct words, where a writer usually says what it is about.
MAX_CONCEPTS = 32

# Function words and the commonest verbs and adverbs: they carry no topic of their own.
STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also although
always am among amongst an and another any anyhow anyone anything anyway anywhere are around as at
back be became because become becomes becoming been before beforehand behind being below beside
besides between beyond both but by can cannot could did do does doing done down due during each
either else elsewhere enough even ever every everyone everything everywhere except few for former
formerly from further get gets getting give given go goes going gone got had has have having he
hence her here hereafter hereby herein hers herself him himself his how however i if in indeed
into is it its itself just keep kept know last later latter least less let like made make makes
many may me meanwhile might mine more moreover most mostly much must my myself namely neither
never nevertheless next no nobody none nor not nothing now nowhere of off often on once one only
onto or other others otherwise our ours ourselves out over own per perhaps please put quite rather
re really same say said says see seem seemed seeming seems several she should since so some
somehow someone something sometime sometimes somewhere still such take than that the their theirs
them themselves then thence there thereafter thereby therefore therein thereupon these they thing
things think this those though through throughout thru thus to together too toward towards under
until up upon us very via was way we well were what whatever when whence whenever where whereafter
whereas whereby wherein whereupon wherever whether which while whither who whoever whole whom whose
why will with within without would yeah yes yet you your yours yourself yourselves
""".split())


def words(text: str) -> list[str]:
    """The content words of `text`, lower-cased and distinct, in order of first use."""
    found = (w.strip("'-").removesuffix("'s") for w in _WORD.findall(text.lower()))
    # A word still holding an apostrophe is a contraction ("don't", "we're"): function words.
    return list(dict.fromkeys(w for w in found if len(w) >= 3 and "'" not in w and w not in STOP_WORDS))


# Inflections folded by `stem`, longest first.
_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


@lru_cache(maxsize=1 << 16)  # called for every word of every candidate of every retrieval
def stem(word: str) -> str:
    """A crude stem ("loves", "loved", "loving" -> "lov"): enough to tell that an item's word is
    one of the query's own in another inflection, which the full-text search already credits
    (its index stems words)."""
    for _ in range(2):  # "paintings" -> "painting" -> "paint"
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)] + replacement
                break
    return word.removesuffix("e") if len(word) > 3 else word


def concepts(text: str) -> list[str]:
    """The concepts an item of this text mentions (its first MAX_CONCEPTS content words)."""
    return words(text)[:MAX_CONCEPTS]


class WordVectors:
    """The vectors of recently used concepts, kept in this process: a concept's vector never
    changes (the database holds one embedder's vectors), and reading a few hundred of them back
    costs a retrieval more than everything else it reads about its candidates."""

    def __init__(self, max_words: int = 20_000):  # ~30 MB of 384-d float32 vectors
        self.max_words = max_words
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, words: Sequence[str], load: Callable[[list[str]], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The vectors of `words`, those not kept read with `load` (a word it does not return
        has no vector and is left out)."""
        with self._lock:
            found = {w: self._vectors[w] for w in words if w in self._vectors}
            for w in found:
                self._vectors.move_to_end(w)
        missing = [w for w in words if w not in found]
        if missing:
            loaded = load(missing)
            found.update(loaded)
            with self._lock:
                self._vectors.update(loaded)
                while len(self._vectors) > self.max_words:
                    self._vectors.popitem(last=False)
        return found

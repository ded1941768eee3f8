"""Bi-temporal retrieval on every backend: `as_of` returns what held in the world at a moment
(valid_from <= t < valid_to, an episode's timestamp <= t) and was known then (created by t, not
invalidated before it); `when` phrases filter on world time. All inside the index queries."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from alma_graph.backends.base import SearchFilter
from alma_graph.schema import node_kind

from .graph_checks import ids_of

pytestmark = pytest.mark.requires("vector_search")
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def _moment() -> datetime:
    """Now, with the clock moved on so that what is written next is strictly later."""
    time.sleep(0.01)
    at = datetime.now(timezone.utc)
    time.sleep(0.01)
    return at


def test_as_of_keeps_facts_that_held_in_the_world_at_that_moment(memory, agent):
    paris = memory.add_knowledge(agent, domain="home", fact="the user lives in paris",
                                 valid_from="2019-01-01", valid_to="2022-06-01")
    berlin = memory.add_knowledge(agent, domain="home", fact="the user lives in berlin", valid_from="2022-06-01")
    later = memory.add_knowledge(agent, domain="home", fact="the user lives in lisbon", valid_from="2100-01-01")
    now = _moment()
    assert paris.valid_to == datetime(2022, 6, 1, tzinfo=timezone.utc) and paris.is_valid
    everything = ids_of(memory.retrieve("where does the user live", agent, types=["DomainKnowledge"]))
    assert set(everything) == {paris.id, berlin.id, later.id}  # without as_of: every belief
    assert ids_of(memory.retrieve("where does the user live", agent, as_of=now)) == [berlin.id]
    # Known only from today: nothing was known in 2021, whatever held then.
    assert ids_of(memory.retrieve("where does the user live", agent, as_of="2021-01-01")) == []


def test_as_of_counts_what_was_invalidated_after_that_moment(memory, agent):
    old = memory.add_knowledge(agent, domain="ci", fact="the build runs on jenkins")
    doomed = memory.add_knowledge(agent, domain="ci", fact="the build caches in s3")
    before = _moment()
    new = memory.update(old.id, fact="the build runs on github actions")
    memory.forget(doomed.id)
    after = _moment()
    assert memory.get(old.id).invalidated_at is not None and memory.get(old.id).valid_to is None
    assert set(ids_of(memory.retrieve("the build", agent, as_of=before))) == {old.id, doomed.id}
    assert ids_of(memory.retrieve("the build", agent, as_of=after)) == [new.id]
    assert ids_of(memory.retrieve("the build", agent)) == [new.id]
    assert set(ids_of(memory.retrieve("the build", agent, as_of=after, include_invalidated=True))) == {
        old.id, doomed.id, new.id}


def test_as_of_leaves_out_episodes_recorded_after_it(memory, agent):
    past, future = memory.remember_many(agent, [
        {"text": "standup notes: the deploy is blocked", "session": "s", "timestamp": T0},
        {"text": "standup notes: the deploy is planned", "session": "s", "timestamp": "2100-01-01"}])
    now = _moment()
    assert ids_of(memory.retrieve("standup notes", agent, as_of=now)) == [past.id]
    # It happened in March 2024, but was only recorded today.
    assert ids_of(memory.retrieve("standup notes", agent, as_of=T0 + timedelta(days=1))) == []


def test_the_as_of_filter_runs_inside_the_index_queries(memory, agent):
    kind = node_kind("DomainKnowledge")
    old = memory.add_knowledge(agent, domain="d", fact="the api key rotates monthly")
    before = _moment()
    memory.forget(old.id)
    later = memory.add_knowledge(agent, domain="d", fact="the api key rotates weekly")
    vector = memory.embedder.embed([old.text])[0]
    at_before = SearchFilter(agents=(agent,), as_of_ms=int(before.timestamp() * 1000),
                             time_property="valid_from", world_end="valid_to")
    assert [h.id for h in memory.backend.vector_search(kind, np.asarray(vector), 5, at_before)] == [old.id]
    current = SearchFilter(agents=(agent,), time_property="valid_from", world_end="valid_to")
    assert [h.id for h in memory.backend.vector_search(kind, np.asarray(vector), 5, current)] == [later.id]


def test_when_reads_a_phrase_against_the_reference(memory, agent):
    days = memory.remember_many(agent, [
        {"text": f"standup notes for day {i}", "session": "standup", "timestamp": T0 + timedelta(days=i)}
        for i in range(10)])
    day_of = {e.id: i for i, e in enumerate(days)}

    def days_returned(**window) -> list[int]:
        result = memory.retrieve("standup notes", agent, top_k=20, **window)
        return sorted(day_of[i] for i in ids_of(result))

    reference = T0 + timedelta(days=5, hours=3)  # Wednesday 6 March 2024
    assert days_returned(when="yesterday", reference=reference) == [4]
    assert days_returned(when="2 days ago", reference=reference) == [3]
    assert days_returned(when="this week", reference=reference) == [3, 4, 5, 6, 7, 8, 9]
    assert days_returned(when="last week", reference=reference) == [0, 1, 2]
    assert days_returned(when="since Monday", reference=reference) == [3, 4, 5, 6, 7, 8, 9]
    # Both a phrase and explicit bounds: their intersection.
    assert days_returned(when="this week", reference=reference, until=T0 + timedelta(days=4)) == [3, 4]
    assert days_returned(when="between 2024-03-02 and 2024-03-03") == [1, 2]

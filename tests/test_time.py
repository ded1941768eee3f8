"""Time at the front door: world-time validity on write, `as_of`, `when` and `reference` on
retrieve (Python and CLI), and questions that ask when favouring items that date what they say.
The filters themselves run on every backend in tests/conformance/test_time.py."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from alma_graph.cli import main
from alma_graph.errors import ValidationError
from alma_graph.services.retrieval import time_window

UTC = timezone.utc


def test_a_fact_keeps_the_world_time_it_was_written_with(memory, agent):
    k = memory.add_knowledge(agent, domain="home", fact="lived in paris", valid_from="2019-01-01",
                             valid_to="2022-06-01")
    got = memory.get(k.id)
    assert (got.valid_from, got.valid_to, got.invalidated_at) == (
        datetime(2019, 1, 1, tzinfo=UTC), datetime(2022, 6, 1, tzinfo=UTC), None)
    assert got.is_valid and got.held_at(datetime(2020, 1, 1, tzinfo=UTC))
    assert not got.held_at(datetime(2022, 6, 1, tzinfo=UTC))  # valid_to is exclusive


@pytest.mark.parametrize("options", [{"valid_from": "2022-01-01", "valid_to": "2021-01-01"},
                                     {"valid_to": "2020-01-01"},  # valid_from defaults to now
                                     {"valid_to": "soon"}])
def test_a_fact_cannot_end_before_it_begins(memory, agent, options):
    with pytest.raises(ValidationError) as caught:
        memory.add_knowledge(agent, domain="d", fact="f", **options)
    assert caught.value.field == "valid_to"


def test_forgetting_sets_the_invalidation_time_not_the_world_time(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="the moon is made of cheese")
    memory.forget(k.id)
    got = memory.get(k.id)
    assert got.invalidated_at is not None and got.valid_to is None and not got.is_valid
    assert memory.history(k.id).node(k.id).invalidated_at == got.invalidated_at


@pytest.mark.parametrize("kwargs, field", [
    ({"when": "someday"}, "when"),
    ({"when": 5}, "when"),
    ({"reference": "2024-01-01"}, "reference"),  # a reference without a phrase reads nothing
    ({"when": "yesterday", "reference": "not a date"}, "reference"),
    ({"as_of": "never"}, "as_of"),
    ({"when": "2023", "since": "2024-01-01"}, "when"),  # no overlap
])
def test_bad_time_arguments_are_errors_naming_the_argument(memory, agent, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        memory.retrieve("anything", agent, **kwargs)
    assert caught.value.field == field


def test_when_is_read_at_as_of_unless_a_reference_is_given():
    as_of = int(datetime(2024, 3, 14, tzinfo=UTC).timestamp() * 1000)
    since, until = time_window(when="yesterday", as_of_ms=as_of)
    assert (since, until) == (as_of - 86_400_000, as_of - 1)
    since, _ = time_window(when="yesterday", reference="2020-01-02", as_of_ms=as_of)
    assert since == int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)


def test_the_cli_filters_by_a_phrase_and_a_moment(db_url, memory, agent, capsys):
    memory.remember_many(agent, [
        {"text": "standup: the deploy is blocked", "session": "s", "timestamp": "2024-03-13T10:00:00Z"},
        {"text": "standup: the deploy is done", "session": "s", "timestamp": "2024-03-14T10:00:00Z"}])
    memory.close()

    def texts(*args: str) -> list[str]:
        assert main(["--url", db_url, "--embedder", "hashing", "retrieve", "standup deploy", "--agent", agent,
                     "--json", *args]) == 0
        return [i["episode"]["text"] for i in json.loads(capsys.readouterr().out)["items"]]

    assert texts("--when", "yesterday", "--reference", "2024-03-14T12:00:00Z") == ["standup: the deploy is blocked"]
    assert texts("--as-of", "2024-03-13T12:00:00Z") == []  # recorded only today
    assert main(["--url", db_url, "--embedder", "hashing", "retrieve", "x", "--agent", agent,
                 "--when", "someday"]) != 0
    assert "when" in capsys.readouterr().err


def test_a_question_that_asks_when_favours_the_turn_that_dates_the_event(memory, agent):
    memory.remember_many(agent, [
        {"text": "Caroline: the support group was so powerful, I loved the support group", "session": "s"},
        {"text": "Caroline: I went to the support group yesterday", "session": "s"}])
    asked = memory.retrieve("When did Caroline go to the support group?", agent, top_k=2)
    assert asked[0].text.endswith("yesterday") and asked[0].explanation.relevance["dated"] > 0
    plain = memory.retrieve("Caroline support group", agent, top_k=2)
    assert all("dated" not in item.explanation.relevance for item in plain)

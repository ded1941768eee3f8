"""The chat model: one chat completion over the real protocol (to a local server), in JSON mode,
its answer held to a schema; a bad answer and a broken server are told apart."""

from __future__ import annotations

import pytest
from chat_server import ChatServer

from alma_graph.errors import ModelAnswerError, ModelError
from alma_graph.llm import ChatModel, LLMConfig, parse_answer
from alma_graph.llm.prompts import JudgeAnswer, MergeAnswer


def test_a_question_goes_out_as_a_json_mode_chat_completion_and_comes_back_validated():
    with ChatServer(['{"fields": {"fact": "dicts keep insertion order"}, "reason": "same fact"}']) as server:
        model = ChatModel(LLMConfig(model="merger", base_url=server.url, api_key="k-123"))
        answer = model.ask("be terse", "merge these", MergeAnswer)
    assert answer == MergeAnswer(fields={"fact": "dicts keep insertion order"}, reason="same fact")
    [request] = server.requests
    assert request["model"] == "merger" and request["temperature"] == 0
    assert request["response_format"] == {"type": "json_object"}
    assert request["messages"] == [{"role": "system", "content": "be terse"}, {"role": "user", "content": "merge these"}]
    assert server.authorizations == ["Bearer k-123"]


def test_an_answer_wrapped_in_prose_or_a_code_fence_is_still_read():
    raw = 'Here you go:\n```json\n{"verdicts": [{"id": "m1", "relation": "repeat"}]}\n```'
    assert parse_answer(raw, JudgeAnswer).verdicts[0].relation == "repeat"


@pytest.mark.parametrize("raw, problem", [
    ("I cannot help with that", "without a JSON object"),
    ('{"fields": {"fact": "x"', "without a JSON object"),
    ('{"verdicts": [{"id": "m1", "relation": "maybe"}]}', "not a JudgeAnswer"),
    ('{"fields": "dicts keep order"}', "not a MergeAnswer"),
])
def test_an_answer_that_is_not_the_json_asked_for_is_a_model_answer_error(raw, problem):
    schema = JudgeAnswer if "verdicts" in raw else MergeAnswer
    with pytest.raises(ModelAnswerError, match=problem):
        parse_answer(raw, schema)


def test_a_failing_server_is_a_model_error_not_a_bad_answer():
    with ChatServer(status=503) as server:
        model = ChatModel(LLMConfig(model="merger", base_url=server.url))
        with pytest.raises(ModelError, match="merger") as caught:
            model.ask("s", "p", MergeAnswer)
    assert not isinstance(caught.value, ModelAnswerError)


def test_the_model_is_configured_from_the_environment_only_when_one_is_named():
    assert LLMConfig.from_env({}) is None
    config = LLMConfig.from_env({"ALMA_GRAPH_LLM_MODEL": "qwen2.5", "ALMA_GRAPH_LLM_URL": "http://gpu:8000/v1",
                                 "OPENAI_API_KEY": "sk-x"})
    assert config == LLMConfig(model="qwen2.5", base_url="http://gpu:8000/v1", api_key="sk-x")

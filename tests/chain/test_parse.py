"""Pure parsing logic, fed the model step's `Reply` chunks directly (no HTTP here)."""

import json

import pytest

from leadq.chain.parse import StructuredAnswerParser
from leadq.core.errors import BadProviderAnswer
from leadq.core.result import Usage
from leadq.wire.openai_chat import Reply

ANSWER = {"fit_score": 0.8, "budget_score": 0.6, "reasoning": "Good fit"}


def _chunks(text: str, size: int = 7) -> list[Reply]:
    return [Reply(text[i : i + size]) for i in range(0, len(text), size)]


def test_invoke_parses_content() -> None:
    draft = StructuredAnswerParser().invoke(Reply(json.dumps(ANSWER)))
    assert draft.done
    assert draft.data == ANSWER


def test_code_fence_is_tolerated() -> None:
    reply = Reply("```json\n" + json.dumps(ANSWER) + "\n```")
    assert StructuredAnswerParser().invoke(reply).data == ANSWER


def test_a_raw_newline_inside_a_string_is_taken_as_written() -> None:
    # What llama-cpp-python's server sent for a schema-constrained answer: a newline and a tab
    # unescaped inside a string value.
    text = '{"fit_score": 0.8, "reasoning": "Good fit.\nEvaluating\tnow."}'
    draft = StructuredAnswerParser().invoke(Reply(text))
    assert draft.data == {"fit_score": 0.8, "reasoning": "Good fit.\nEvaluating\tnow."}


def test_stream_yields_growing_partials_then_final() -> None:
    drafts = list(StructuredAnswerParser().transform(iter(_chunks(json.dumps(ANSWER)))))
    partials, final = drafts[:-1], drafts[-1]
    assert len(partials) >= 3
    assert not any(d.done for d in partials)
    assert final.done
    assert final.data == ANSWER
    assert len(partials[0].data) <= len(partials[-1].data)


def test_stream_keeps_the_last_usage_and_finish_reason() -> None:
    usage = Usage(input_tokens=10, output_tokens=5, total_tokens=15)
    chunks = [*_chunks(json.dumps(ANSWER)), Reply(finish_reason="stop"), Reply(usage=usage)]
    final = list(StructuredAnswerParser().transform(iter(chunks)))[-1]
    assert final.usage == usage
    assert final.finish_reason == "stop"


def test_not_json_is_a_bad_answer() -> None:
    with pytest.raises(BadProviderAnswer, match="not valid JSON"):
        StructuredAnswerParser().invoke(Reply("Sure! Here's the lead: great"))


def test_a_stream_of_prose_is_a_bad_answer_at_its_end() -> None:
    # No partial from text that is not JSON, and the typed error (not a JSON decoder's
    # exception) once the stream is over.
    parser = StructuredAnswerParser()
    chunks = iter(_chunks("I can't help with that request."))
    with pytest.raises(BadProviderAnswer, match="not valid JSON"):
        list(parser.transform(chunks))


def test_empty_answer_cut_by_length_says_so() -> None:
    with pytest.raises(BadProviderAnswer, match="max_completion_tokens"):
        StructuredAnswerParser().invoke(Reply("", finish_reason="length"))


def test_json_array_is_not_an_answer() -> None:
    with pytest.raises(BadProviderAnswer, match="not an object"):
        StructuredAnswerParser().invoke(Reply("[1, 2]"))

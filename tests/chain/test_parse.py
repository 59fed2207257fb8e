"""Pure parsing logic, fed LangChain message chunks directly (no HTTP here)."""

import json

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

from leadq.chain.parse import StructuredAnswerParser
from leadq.errors import BadProviderAnswer

ANSWER = {"fit_score": 0.8, "budget_score": 0.6, "reasoning": "Good fit"}


def _chunks(text: str, size: int = 7) -> list[AIMessageChunk]:
    return [AIMessageChunk(content=text[i : i + size]) for i in range(0, len(text), size)]


def test_invoke_parses_content() -> None:
    draft = StructuredAnswerParser(False).invoke(AIMessage(content=json.dumps(ANSWER)))
    assert draft.done and draft.data == ANSWER


def test_code_fence_is_tolerated() -> None:
    msg = AIMessage(content="```json\n" + json.dumps(ANSWER) + "\n```")
    assert StructuredAnswerParser(False).invoke(msg).data == ANSWER


def test_stream_yields_growing_partials_then_final() -> None:
    drafts = list(StructuredAnswerParser(False).transform(iter(_chunks(json.dumps(ANSWER)))))
    partials, final = drafts[:-1], drafts[-1]
    assert len(partials) >= 3 and not any(d.done for d in partials)
    assert final.done and final.data == ANSWER
    assert len(partials[0].data) <= len(partials[-1].data)


def test_tool_call_arguments_stream() -> None:
    text = json.dumps(ANSWER)
    chunks = [
        AIMessageChunk(
            content="",
            tool_call_chunks=[
                {
                    "name": "lead_qualification" if i == 0 else None,
                    "args": text[i : i + 9],
                    "id": None,
                    "index": 0,
                }
            ],
        )
        for i in range(0, len(text), 9)
    ]
    drafts = list(StructuredAnswerParser(True).transform(iter(chunks)))
    assert drafts[-1].data == ANSWER and len(drafts) > 2


def test_not_json_is_a_bad_answer() -> None:
    with pytest.raises(BadProviderAnswer, match="not valid JSON"):
        StructuredAnswerParser(False).invoke(AIMessage(content="Sure! Here's the lead: great"))


def test_empty_answer_cut_by_length_says_so() -> None:
    msg = AIMessage(content="", response_metadata={"finish_reason": "length"})
    with pytest.raises(BadProviderAnswer, match="max_completion_tokens"):
        StructuredAnswerParser(False).invoke(msg)


def test_json_array_is_not_an_answer() -> None:
    with pytest.raises(BadProviderAnswer, match="not an object"):
        StructuredAnswerParser(False).invoke(AIMessage(content="[1, 2]"))

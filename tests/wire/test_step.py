"""What every wire format shares: reading a server-sent event stream's `data:` lines from
the chunks they arrive in (pure logic: the chunks are fed by hand)."""

from __future__ import annotations

import asyncio
from unittest import mock

import aiohttp
import pytest

from leadq.core.errors import BadProviderAnswer
from leadq.wire.step import MAX_LINE, data_lines


async def _payloads(*chunks: bytes) -> list[bytes]:
    content = aiohttp.StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    for chunk in chunks:
        content.feed_data(chunk)
    content.feed_eof()
    return [payload async for payload in data_lines(content)]


async def test_events_split_anywhere_across_chunks() -> None:
    stream = b'event: ping\ndata: {"type": "ping"}\n\nevent: x\ndata: {"a": 1}\n\n: note\ndata: 2'
    expected = [b'{"type": "ping"}', b'{"a": 1}', b"2"]
    assert await _payloads(stream) == expected
    for cut in range(1, len(stream)):
        assert await _payloads(stream[:cut], stream[cut:]) == expected, cut
    assert await _payloads(*(bytes([b]) for b in stream)) == expected


async def test_an_over_long_line_is_a_bad_answer() -> None:
    with pytest.raises(BadProviderAnswer, match="over-long line"):
        await _payloads(b"data: " + b"x" * (MAX_LINE + 1))

"""live.eager: a coroutine's first step runs at once; only one that waits is finished in a task, as a task would."""

from __future__ import annotations

import asyncio

import pytest

from live import eager


def test_a_coroutine_that_never_waits_is_done_in_its_first_step() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    async def scenario() -> None:
        assert eager.start_now(send()) is None
        assert done == ["sent"]  # at once, not a turn of the loop later

    asyncio.run(scenario())


def test_one_that_waits_is_finished_by_awaiting_its_rest_in_a_task() -> None:
    async def scenario() -> None:
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        steps: list[str] = []

        async def send() -> str:
            steps.append("started")
            steps.append(await gate)
            await asyncio.sleep(0)
            steps.append("finished")
            return "result is dropped"

        rest = eager.start_now(send())
        assert rest is not None and steps == ["started"]
        task = asyncio.ensure_future(rest)
        gate.set_result("resumed")
        await task
        assert steps == ["started", "resumed", "finished"]

    asyncio.run(scenario())


def test_errors_reach_the_caller_or_the_task_and_a_cancel_reaches_the_coroutine() -> None:
    async def scenario() -> None:
        async def broken() -> None:
            raise ConnectionResetError("first step")

        with pytest.raises(ConnectionResetError):
            eager.start_now(broken())

        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def fails_later() -> None:
            await gate
            raise ConnectionResetError("after the wait")

        rest = eager.start_now(fails_later())
        assert rest is not None
        task = asyncio.ensure_future(rest)
        gate.set_result(None)
        with pytest.raises(ConnectionResetError):
            await task

        cleaned: list[str] = []

        async def stalls() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append("cleaned up")

        rest = eager.start_now(stalls())
        assert rest is not None
        task = asyncio.ensure_future(rest)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cleaned == ["cleaned up"]

    asyncio.run(scenario())

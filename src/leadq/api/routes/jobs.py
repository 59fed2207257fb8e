"""Jobs as a resource: submit leads and leave (the server, or `leadq worker` processes with a
broker, run them), follow the progress, download the results, cancel, retry what failed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import PureWindowsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from leadq.api.deps import SettingsDep, StoreDep, require_api_key
from leadq.api.models import (
    ERROR_RESPONSES,
    ErrorResponse,
    JobList,
    JobResponse,
    JobRetried,
)
from leadq.core.errors import InvalidFile
from leadq.core.lead import LeadInput
from leadq.leadfiles import parse_mapping
from leadq.service import submitted
from leadq.service.job_runner import JobQueue
from leadq.storage import chunks
from leadq.storage.store import Store

router = APIRouter(
    prefix="/api/jobs",
    tags=["jobs"],
    dependencies=[Depends(require_api_key)],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 422)},
)
JobId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-f]+$")]
_404: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such job."}
}
_409: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The job's state does not allow it."}
}
# Content types of a submitted file; anything else is read as a JSON list of leads.
FILE_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/jsonlines": "jsonl",
}
# A form upload's file by its name; else by the part's Content-Type (FILE_TYPES).
FILE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORM_FIELDS = 100  # `map` fields a form may carry (a form's file is its one file part)
_FORM_FIELD_BYTES = 4096  # a `map` field's size (the file part is held by the body limit)
_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A JSON list of leads, or a CSV or JSONL file as the body (by its "
        "Content-Type, or `?format=`), or a form upload (`curl -F file=@leads.csv`), read "
        "as `leadq qualify` reads one.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/LeadInput"},
                    "example": [LeadInput.model_config["json_schema_extra"]["example"]],  # type: ignore[index]
                }
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV or JSONL file: read by its name's "
                            "extension (.csv, .jsonl, .ndjson), else its Content-Type, else "
                            "`?format=`, else as CSV. Its name is the job's source unless "
                            "`?name=` is given.",
                        },
                        "map": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "`COLUMN=FIELD`, repeatable, as the `map` query "
                            "parameter (both may be given).",
                        },
                    },
                },
            },
        },
    }
}


def get_queue_dep(request: Request) -> JobQueue:
    return request.app.state.jobs  # type: ignore[no-any-return]


QueueDep = Annotated[JobQueue, Depends(get_queue_dep)]


@router.post(
    "",
    status_code=202,
    response_model=JobResponse,
    openapi_extra=_SUBMIT_BODY,
    responses={413: ERROR_RESPONSES[413], 503: ERROR_RESPONSES[503]},
)
async def submit_job(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    queue: QueueDep,
    input_format: Annotated[
        Literal["csv", "jsonl", "json"] | None,
        Query(alias="format", description="How to read the body; default: its Content-Type."),
    ] = None,
    column_map: Annotated[
        list[str] | None,
        Query(
            alias="map",
            description="`COLUMN=FIELD`, repeatable: read the file's column as the lead's field "
            "(as `leadq qualify --map`).",
        ),
    ] = None,
    name: Annotated[
        str | None, Query(max_length=300, description="The file's name, shown as the source.")
    ] = None,
) -> dict[str, Any]:
    """Submit leads as a job and get its id at once (202); the job runs whether or not the
    client stays. Follow it at `GET /api/jobs/{id}`; results at `/api/jobs/{id}/results`.
    A file that cannot be read is refused (422 `invalid_file`, naming the row or byte); a
    row that is no lead, or an invalid lead, gets its error in the results instead."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        data, filename, part_format, form_map = await _form_upload(request)
        fmt = part_format or input_format or "csv"
        column_map = [*(column_map or ()), *form_map]
        name = name or filename
    else:
        fmt = input_format or FILE_TYPES.get(kind, "json")
        data = await request.body()
    try:
        mapping = parse_mapping(column_map or ())
    except ValueError as exc:
        raise InvalidFile(str(exc)) from None
    if fmt == "json":
        rows, options = submitted.read_json(_json_list(data), settings)
        source = name or "submitted JSON"
    else:
        source = name or f"submitted {fmt.upper()}"
        rows, options = await asyncio.to_thread(
            submitted.read_upload, data, fmt, mapping, settings, name or "the file"
        )
    del data
    per_chunk = submitted.chunk_rows(settings, request.app.state.qualifier)
    job = await store.call(
        submitted.submit, store, queue, source, rows, options, per_chunk, patience=120.0
    )
    return {"status": "success", "data": job}


async def _form_upload(request: Request) -> tuple[bytes, str | None, str | None, list[str]]:
    """A form upload's file part `file`: its bytes (the whole body is held to
    LEADQ_MAX_FILE_BYTES before it gets here), its name without a folder, the format that
    name or the part's Content-Type says, and the form's `map` fields."""
    try:
        async with request.form(
            max_files=1, max_fields=_FORM_FIELDS, max_part_size=_FORM_FIELD_BYTES
        ) as form:
            unknown = sorted(set(form.keys()) - {"file", "map"})
            upload, form_map = form.get("file"), form.getlist("map")
            if unknown:
                raise InvalidFile(
                    f"unknown form field {', '.join(map(repr, unknown[:5]))}: send the file as "
                    "`file` (curl -F file=@leads.csv) and any `map` fields; `name` and "
                    "`format` are query parameters"
                )
            if not isinstance(upload, UploadFile):
                what = "is a text field, not a file" if upload is not None else "is missing"
                raise InvalidFile(
                    f"the form's `file` part {what}: send the CSV or JSONL file as "
                    "curl -F file=@leads.csv does"
                )
            if not all(isinstance(m, str) for m in form_map):
                raise InvalidFile("the form's `map` fields are `COLUMN=FIELD` text, not files")
            data = await upload.read()
    except HTTPException as exc:  # starlette's 400: the form itself cannot be parsed
        raise InvalidFile(f"the multipart form cannot be read: {exc.detail}") from None
    path = PureWindowsPath((upload.filename or "").strip())  # its folder by / or \\ dropped
    kind = (upload.content_type or "").split(";")[0].strip().lower()
    fmt = FILE_SUFFIXES.get(path.suffix.lower()) or FILE_TYPES.get(kind)
    return data, path.name.strip()[:300] or None, fmt, [str(m) for m in form_map]


def _json_list(data: bytes) -> list[Any]:
    try:
        leads = json.loads(data)
    except ValueError as exc:
        raise InvalidFile(f"the body is not valid JSON: {exc}") from None
    if not isinstance(leads, list):
        raise InvalidFile("the body must be a JSON list of leads, or a CSV or JSONL file")
    return leads


@router.get("", response_model=JobList)
async def list_jobs(
    store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """The newest jobs, submitted ones and `leadq qualify` runs on this database, with their
    progress."""
    return {"status": "success", "data": await store.call(chunks.describe_jobs, store, None, limit)}


@router.get("/{job_id}", response_model=JobResponse, responses=_404)
async def get_job(job_id: JobId, store: StoreDep) -> dict[str, Any]:
    """Status and progress: rows done, succeeded and failed, the rate, the time left."""
    return {"status": "success", "data": await store.call(submitted.describe, store, job_id)}


_RESULTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSONL (one record a row, as `leadq qualify` writes them) or CSV "
        "(`leadq qualify -o out.csv`'s columns, then the file's own columns).",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    **_404,
}


@router.get("/{job_id}/results", response_class=StreamingResponse, responses=_RESULTS)
async def job_results(
    job_id: JobId,
    store: StoreDep,
    fmt: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    after: Annotated[int, Query(ge=0, description="Only the rows after this row number.")] = 0,
    limit: Annotated[
        int | None, Query(ge=1, description="At most this many rows (default: all).")
    ] = None,
) -> StreamingResponse:
    """The results so far, in input order: every finished row (of a cancelled job, the rows
    it never ran too, with status `cancelled`). Streamed as it is read. A reader that
    follows a running job asks with `after` and `limit` for the rows it has not got yet."""
    pieces = submitted.result_pieces(store, job_id, fmt, after, limit)
    first = await store.call(next, pieces)  # 404 and a database outage before the 200
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        _streamed(store, first, pieces),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="job-{job_id}.{fmt}"'},
    )


async def _streamed(store: Store, first: str, pieces: Iterator[str]) -> AsyncIterator[str]:
    try:
        yield first
        while (piece := await store.call(next, pieces, None)) is not None:
            yield piece
    finally:
        with suppress(ValueError, AttributeError):  # still read on a store thread
            pieces.close()  # type: ignore[attr-defined]


@router.post("/{job_id}/cancel", response_model=JobResponse, responses={**_404, **_409})
async def cancel_job(job_id: JobId, store: StoreDep) -> dict[str, Any]:
    """Stop a queued or running job: chunks not started are not run, a running one stops
    within a third of LEADQ_JOB_LEASE; rows finished stay. 409 when it has finished."""
    return {"status": "success", "data": await store.call(submitted.cancel, store, job_id)}


@router.post("/{job_id}/retry-failed", response_model=JobRetried, responses={**_404, **_409})
async def retry_failed(job_id: JobId, store: StoreDep, queue: QueueDep) -> dict[str, Any]:
    """Qualify again a finished job's rows that failed with a retryable error (a provider
    outage, a rate limit, a timeout, an unusable answer); invalid leads stay failed."""
    job, reopened = await store.call(submitted.retry_failed, store, queue, job_id)
    return {"status": "success", "reopened": reopened, "data": job}

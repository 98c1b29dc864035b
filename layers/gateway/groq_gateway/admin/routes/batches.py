"""``/openai/v1/admin/batches`` and ``/openai/v1/admin/files``: every key's batches and files
with their owners (read-only; a gateway key sees only its own through the proxy)."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from groq_gateway.admin.dependencies import After, Authorized, Limit, Services, in_thread
from groq_gateway.core.batches import BatchRecord, BatchState, FilePurpose, FileRecord
from groq_gateway.core.money import micros_to_usd

router = APIRouter(prefix="/openai/v1/admin", tags=["batches"])


class FileOwnership(BaseModel):
    """A file and the key that owns it: uploaded through the gateway (``batch``) or written
    by Groq for one of the key's batches (``batch_output``)."""

    object: Literal["gateway.file"] = "gateway.file"
    id: str
    key_id: str
    team_id: str | None
    purpose: FilePurpose
    filename: str
    bytes: int
    created_at: datetime
    batch_id: str | None
    # For an upload: its lines, and the models they name.
    lines: int | None
    models: list[str] | None

    @classmethod
    def of(cls, record: FileRecord) -> "FileOwnership":
        summary = record.batch_input
        return cls(
            id=record.file_id,
            key_id=record.key_id,
            team_id=record.team_id,
            purpose=record.purpose,
            filename=record.filename,
            bytes=record.bytes,
            created_at=record.created_at,
            batch_id=record.batch_id,
            lines=summary.lines if summary else None,
            models=sorted(summary.models) if summary else None,
        )


class BatchOwnership(BaseModel):
    """A batch, the key that created it and what it holds against caps: ``open`` while its
    worst case is reserved, ``metered`` once its real use is."""

    object: Literal["gateway.batch"] = "gateway.batch"
    id: str
    key_id: str
    team_id: str | None
    input_file_id: str
    endpoint: str
    created_at: datetime
    state: BatchState
    status: str  # Groq's, as the gateway last saw it
    models: list[str]
    reserved_usd: Decimal
    cost_usd: Decimal | None
    lines_metered: int | None
    metered_at: datetime | None
    output_file_id: str | None
    error_file_id: str | None

    @classmethod
    def of(cls, record: BatchRecord) -> "BatchOwnership":
        cost = record.cost_micros
        return cls(
            id=record.batch_id,
            key_id=record.key_id,
            team_id=record.team_id,
            input_file_id=record.input_file_id,
            endpoint=record.endpoint,
            created_at=record.created_at,
            state=record.state,
            status=record.status,
            models=record.models,
            reserved_usd=micros_to_usd(record.reserved_micros),
            cost_usd=None if cost is None else micros_to_usd(cost),
            lines_metered=record.lines_metered,
            metered_at=record.metered_at,
            output_file_id=record.output_file_id,
            error_file_id=record.error_file_id,
        )


class FileOwnershipList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileOwnership]
    has_more: bool
    # Pass as ``after`` to read the next page; null on the last page.
    next_cursor: str | None


class BatchOwnershipList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchOwnership]
    has_more: bool
    # Pass as ``after`` to read the next page; null on the last page.
    next_cursor: str | None


@router.get("/files", response_model=FileOwnershipList, summary="Every key's files, newest first")
async def list_files(
    caller: Authorized, admin: Services, limit: Limit = 20, after: After = None
) -> FileOwnershipList:
    page = await in_thread(admin.batches.files_page, limit=limit, cursor=after)
    return FileOwnershipList(
        data=[FileOwnership.of(record) for record in page.items],
        has_more=page.next_cursor is not None,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/batches",
    response_model=BatchOwnershipList,
    summary="Every key's batches, open ones first, newest first",
)
async def list_batches(
    caller: Authorized,
    admin: Services,
    limit: Limit = 20,
    after: After = None,
    state: Annotated[BatchState | None, Query(description="Only batches in this state.")] = None,
) -> BatchOwnershipList:
    page = await in_thread(admin.batches.batches_page, state=state, limit=limit, cursor=after)
    return BatchOwnershipList(
        data=[BatchOwnership.of(record) for record in page.items],
        has_more=page.next_cursor is not None,
        next_cursor=page.next_cursor,
    )

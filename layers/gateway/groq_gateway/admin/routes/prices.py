"""``/openai/v1/prices``: the effective prices, and the operator's prices set and deleted."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel

from groq_gateway.admin.dependencies import Authorized, Services, in_thread
from groq_gateway.admin.errors import NOT_FOUND, WRITE
from groq_gateway.core.observability import logger
from groq_gateway.core.pricing import (
    MODEL_ID_PATTERN,
    EffectivePrice,
    ModelPrice,
    OperatorPrice,
    PriceSource,
    UnpricedPolicy,
)

router = APIRouter(prefix="/openai/v1/prices", tags=["prices"])

ModelId = Annotated[
    str,
    Path(pattern=MODEL_ID_PATTERN, description="Groq's model id, e.g. `openai/gpt-oss-20b`."),
]


class PriceResponse(ModelPrice):
    """A model's effective price (USD) and where it comes from: ``shipped`` (Groq's published
    prices in the release), ``deployment`` (the PriceOverrides parameter) or ``operator``
    (set with this API, over both)."""

    object: Literal["model.price"] = "model.price"
    model: str
    source: PriceSource
    updated_at: datetime | None = None
    updated_by: str | None = None

    @classmethod
    def of(cls, price: EffectivePrice, stored: OperatorPrice | None = None) -> "PriceResponse":
        return cls(
            **price.price.model_dump(),
            model=price.model,
            source=price.source,
            updated_at=stored.updated_at if stored else None,
            updated_by=stored.updated_by if stored else None,
        )


class UnpricedModels(BaseModel):
    """What a model without a price of its kind gets: ``charge`` at these fallback prices
    (flagged estimated and unpriced) or ``refuse`` (403 ``model_unpriced``)."""

    policy: UnpricedPolicy
    input_per_million: Decimal
    output_per_million: Decimal
    per_audio_hour: Decimal
    per_million_characters: Decimal


class PriceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PriceResponse]
    # Groq's Batch API discount off the token price (0.5: half price).
    batch_discount: Decimal
    unpriced_models: UnpricedModels


class DeletedPriceResponse(BaseModel):
    object: Literal["model.price.deleted"] = "model.price.deleted"
    model: str
    deleted: Literal[True] = True
    # The price that applies from now on; null: the model is unpriced now.
    effective: PriceResponse | None


@router.get("", response_model=PriceList, summary="List the effective prices and their source")
async def list_prices(caller: Authorized, admin: Services) -> PriceList:
    book, operator = await in_thread(admin.prices.effective)
    fallback = book.fallback_prices()
    return PriceList(
        data=[PriceResponse.of(price, operator.get(price.model)) for price in book.effective()],
        batch_discount=book.batch_discount,
        unpriced_models=UnpricedModels(policy=book.policy, **asdict(fallback)),
    )


@router.put(
    "/{model:path}",
    response_model=PriceResponse,
    responses=WRITE,
    summary="Set a model's price (over the shipped and deployment prices)",
)
async def set_price(
    model: ModelId, body: ModelPrice, caller: Authorized, admin: Services
) -> PriceResponse:
    stored = await in_thread(admin.prices.set, model, body, caller.actor)
    logger.info("price set", extra={"model": model, "admin": caller.principal.name})
    return PriceResponse.of(EffectivePrice(model, stored.price, PriceSource.OPERATOR), stored)


@router.delete(
    "/{model:path}",
    response_model=DeletedPriceResponse,
    responses={**WRITE, **NOT_FOUND},
    summary="Delete a model's operator price (the shipped or deployment price applies again)",
)
async def delete_price(model: ModelId, caller: Authorized, admin: Services) -> DeletedPriceResponse:
    effective = await in_thread(admin.prices.delete, model, caller.actor)
    logger.info("price deleted", extra={"model": model, "admin": caller.principal.name})
    return DeletedPriceResponse(
        model=model, effective=PriceResponse.of(effective) if effective else None
    )

"""The wiring's record of open resources: the store, the API client, the downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.aimlapi.client import AimlApiClient
from storage import JobStore

SERVICES_KEY = "services"


@dataclass(frozen=True, slots=True)
class Services:
    """The open resources of a running bot, and nothing else: opened in `post_init`, handed
    to the steps that use them (`bot.wiring.application`), closed in `post_shutdown`."""

    store: JobStore
    api: AimlApiClient
    downloads: aiohttp.ClientSession  # video downloads: carries no API key

    async def close(self) -> None:
        await self.api.close()
        await self.downloads.close()
        await self.store.close()


def services_of(bot_data: dict[Any, Any]) -> Services:
    """The running bot's open resources, from the application's `bot_data`."""
    services = bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services

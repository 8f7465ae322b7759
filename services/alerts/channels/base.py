"""The channel interface and its typed errors."""

from __future__ import annotations

from typing import Protocol, TypeVar

M_contra = TypeVar("M_contra", contravariant=True)


class DeliveryError(Exception):
    """A send that did not go through; the subclass says whether to try again."""


class RetryableDeliveryError(DeliveryError):
    """The provider is down, slow or throttling: the same message may succeed later."""


class PermanentDeliveryError(DeliveryError):
    """The provider refused this message for good (bad number, unknown mailbox)."""


class Channel(Protocol[M_contra]):
    async def start(self) -> None:
        """Open clients; constructors do no I/O."""

    async def close(self) -> None: ...

    async def send(self, message: M_contra) -> str | None:
        """Hand the message to the provider; returns the provider's reference, if any.

        Raises RetryableDeliveryError or PermanentDeliveryError.
        """

    async def already_accepted(self, message: M_contra) -> bool:
        """After a crash between "sent" and "recorded": did the provider take it already?

        Channels whose provider deduplicates by the delivery id itself return False.
        """

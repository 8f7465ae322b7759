"""Everything the pure core needs to know about one shipment besides its readings."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.shipment import ShipmentIn
from services.eta.lethal import BodyModel, body_model
from services.eta.parameters import EtaParameters
from services.eta.route import Route, build_route
from services.profiles.model import ProductProfile, ViabilityModel


@dataclass(frozen=True)
class EtaContext:
    shipment: ShipmentIn
    route: Route
    viability: ViabilityModel
    params: EtaParameters
    body: BodyModel | None = None  # the lethal limits, for products that have them


def make_context(
    shipment: ShipmentIn, profile: ProductProfile, params: EtaParameters
) -> EtaContext:
    return EtaContext(
        shipment=shipment,
        route=build_route(shipment, params),
        viability=profile.viability,
        params=params,
        body=body_model(profile, params.viability_bucket_min, params.gap_slew_c_per_h),
    )

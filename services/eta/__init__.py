"""ETA and viability forecasts per shipment.

The pure core (``geo``, ``parameters``, ``route``, ``viability``, ``lethal``, ``tracking``) imports no
Kafka or faust; ``app`` is the faust adapter that stores the core's state in a changelog
table and forwards its outputs to ``coldchain.eta``.
"""

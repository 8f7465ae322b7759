"""`coldchain simulate`: a deterministic fleet of live-lobster shipments, Nova Scotia -> China.

The core (geography, thermal, itinerary, scenarios, tracker, fleet, pacing) is pure and
imports no MQTT or HTTP client: ``plan_fleet(seed, n, scenarios, start)`` returns the
shipments, the truth the pipeline should find, and the timed MQTT publications. The
adapters (``mqtt_publisher``, ``registration``) and the ``cli`` sit at the edge.
"""

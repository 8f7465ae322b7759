"""TimescaleDB schema: ordered SQL migrations, applied once each and recorded."""

-- create_hypertable made an index on time alone for readings and reading_chain. Nothing reads
-- them by time alone (every query names a device or a shipment; retention drops whole
-- chunks), yet each stored reading paid for two more index entries and their WAL: in a
-- landing burst PostgreSQL's CPU per reading was as large as the sink's (issue 22). The
-- unique (device_id, time) keys and readings' shipment index serve every query.
DROP INDEX IF EXISTS readings_time_idx;
DROP INDEX IF EXISTS reading_chain_time_idx;

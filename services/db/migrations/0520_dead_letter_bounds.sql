-- Dead letters are bounded (schemas/deadletter.py): `payload` now holds the first 2 KB of the
-- refused payload; these columns name the whole of it and the service that refused it.
-- Rows stored before keep their whole payload and NULL size and digest.
ALTER TABLE dead_letters
    ADD COLUMN stage          text    NOT NULL DEFAULT 'ingest',
    ADD COLUMN payload_size   bigint,
    ADD COLUMN payload_sha256 text,
    ADD COLUMN errors_omitted integer NOT NULL DEFAULT 0;

COMMENT ON COLUMN dead_letters.payload IS 'The refused payload, or its first 2 KB when payload_size is larger.';
COMMENT ON COLUMN dead_letters.stage IS 'The service that refused it: ingest, sink, excursions, alerts, ...';
COMMENT ON COLUMN dead_letters.payload_size IS 'Bytes of the whole refused payload (NULL on rows stored before 0520).';
COMMENT ON COLUMN dead_letters.payload_sha256 IS 'Hex SHA-256 of the whole refused payload (NULL on rows stored before 0520).';
COMMENT ON COLUMN dead_letters.errors_omitted IS 'Errors beyond those listed in errors (at most 20 are).';

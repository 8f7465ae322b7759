-- API bearer tokens, stored as SHA-256 hashes only.
CREATE TABLE api_tokens (
    id          text PRIMARY KEY,
    token_hash  text        NOT NULL UNIQUE,
    role        text        NOT NULL CHECK (role IN ('ops', 'auditor', 'exporter')),
    party       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (role <> 'exporter' OR party IS NOT NULL)
);

-- Append-only audit log (README "Auditors"): every change to shipments, device bindings,
-- API tokens and alert acknowledgements, written by triggers so that no code path (and no
-- hand-written SQL) can change those tables unrecorded.
--
-- Who: the code paths that act for a person set `coldchain.actor` for their transaction
-- (SELECT set_config('coldchain.actor', 'ops:TOKEN_ID', true)); otherwise the database
-- role is recorded as 'db:ROLE'.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text        NOT NULL,
    action      text        NOT NULL,   -- insert, update, delete, acknowledge, profiles
    table_name  text        NOT NULL,
    row_key     text,
    old         jsonb,
    new         jsonb
);
CREATE INDEX audit_log_row ON audit_log (table_name, row_key, at);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

CREATE FUNCTION audit_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('coldchain.actor', true), ''), 'db:' || session_user)
$$;

-- One generic row trigger; TG_ARGV[0] names the key column. Secrets never reach the log.
CREATE FUNCTION audit_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'token_hash' END;
    new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'token_hash' END;
    key text := coalesce(new_row, old_row) ->> TG_ARGV[0];
BEGIN
    IF TG_OP = 'UPDATE' AND old_row = new_row THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (actor, action, table_name, row_key, old, new)
    VALUES (audit_actor(), lower(TG_OP), TG_TABLE_NAME, key, old_row, new_row);
    RETURN NULL;
END $$;

CREATE TRIGGER shipments_audit AFTER INSERT OR UPDATE OR DELETE ON shipments
    FOR EACH ROW EXECUTE FUNCTION audit_row_change('id');
CREATE TRIGGER shipment_devices_audit AFTER INSERT OR UPDATE OR DELETE ON shipment_devices
    FOR EACH ROW EXECUTE FUNCTION audit_row_change('shipment_id');
CREATE TRIGGER api_tokens_audit AFTER INSERT OR UPDATE OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION audit_row_change('id');

-- Alerts change often (escalation, suppression bookkeeping); only acknowledgements, and
-- any deletion, are audit events. The acknowledger is the actor when no one else is named.
CREATE FUNCTION audit_alert_ack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (actor, action, table_name, row_key, old)
        VALUES (audit_actor(), 'delete', TG_TABLE_NAME, OLD.id, to_jsonb(OLD) - 'ack_token_hash');
    ELSIF NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at
          OR NEW.acknowledged_by IS DISTINCT FROM OLD.acknowledged_by THEN
        INSERT INTO audit_log (actor, action, table_name, row_key, old, new)
        VALUES (coalesce(nullif(current_setting('coldchain.actor', true), ''), NEW.acknowledged_by, audit_actor()),
                'acknowledge', TG_TABLE_NAME, NEW.id,
                jsonb_build_object('acknowledged_at', OLD.acknowledged_at, 'acknowledged_by', OLD.acknowledged_by),
                jsonb_build_object('acknowledged_at', NEW.acknowledged_at, 'acknowledged_by', NEW.acknowledged_by));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER alerts_ack_audit AFTER UPDATE OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION audit_alert_ack();
CREATE TRIGGER alert_deliveries_ack_audit AFTER UPDATE OR DELETE ON alert_deliveries
    FOR EACH ROW EXECUTE FUNCTION audit_alert_ack();

COMMENT ON TABLE audit_log IS 'Append-only log of changes to shipments, bindings, tokens and acknowledgements (README, Auditors).';

-- Who made and who revoked each share link (0340), in the audit log (0510).
CREATE TRIGGER share_links_audit AFTER INSERT OR UPDATE OR DELETE ON share_links
    FOR EACH ROW EXECUTE FUNCTION audit_row_change('id');

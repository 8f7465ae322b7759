#!/bin/sh
# Mosquitto for deploy/compose.yaml: (re)sets the service accounts' passwords from the
# environment in the password file kept in the data volume, then runs the broker.
# Add a device: docker compose exec mosquitto mosquitto_passwd -b /mosquitto/data/passwd ID PASSWORD
#               docker compose kill -s HUP mosquitto
set -eu
conf=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
passwd=${MOSQUITTO_PASSWD_FILE:-/mosquitto/data/passwd}
: "${COLDCHAIN_MQTT_INGEST_PASSWORD:?the ingest account's password (set it in deploy/.env)}"
: "${COLDCHAIN_MQTT_ADMIN_PASSWORD:?the admin account's password (set it in deploy/.env)}"
mkdir -p "$(dirname "$passwd")"
[ -f "$passwd" ] || { touch "$passwd"; chmod 600 "$passwd"; }
mosquitto_passwd -b "$passwd" coldchain-ingest "$COLDCHAIN_MQTT_INGEST_PASSWORD"
mosquitto_passwd -b "$passwd" coldchain-admin "$COLDCHAIN_MQTT_ADMIN_PASSWORD"
# The broker drops to the mosquitto account (when there is one) and must still read its files.
if id mosquitto >/dev/null 2>&1; then chown -R mosquitto "$(dirname "$passwd")"; fi
exec mosquitto -c "$conf"

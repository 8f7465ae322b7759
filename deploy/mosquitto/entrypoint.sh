#!/bin/sh
# Mosquitto for deploy/compose.yaml: sets ingest's password from the environment on every start
# in the account file kept in the data volume (device accounts stay), then runs the broker.
# Add a device: docker compose exec mosquitto mosquitto_passwd -b /mosquitto/data/passwd ID PASSWORD
#               docker compose kill -s HUP mosquitto
set -eu
conf=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
data=${MOSQUITTO_DATA:-/mosquitto/data}
: "${COLDCHAIN_MQTT_INGEST_PASSWORD:?the ingest account's password (set it in deploy/.env)}"
mkdir -p "$data"
[ -f "$data/passwd" ] || { touch "$data/passwd"; chmod 600 "$data/passwd"; }
mosquitto_passwd -b "$data/passwd" coldchain-ingest "$COLDCHAIN_MQTT_INGEST_PASSWORD"
# The broker drops to the mosquitto account (when there is one) and must still read its files.
if id mosquitto >/dev/null 2>&1; then chown -R mosquitto "$data"; fi
exec mosquitto -c "$conf"

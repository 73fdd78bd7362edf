#!/bin/sh
# Creates lede's three streams, its story bucket and its durable consumer from the JSON files beside this script
# (the JetStream API's own config format, read by `nats ... add --config`), skipping any that
# already exist. Run by the provisioning Job (deploy/k8s/provision-job.yaml) and by the
# `nats-provision` services of docker-compose.yml; needs the `nats` CLI and NATS_URL.
# NATS_STREAM_REPLICAS (1, 3 or 5), when set, replaces the files' num_replicas: the same files
# make R1 streams on one server and R3 on a 3-node cluster (the consumer follows its stream).
# Changing an existing stream or consumer is deliberate work: `nats stream edit` / `nats
# consumer edit` with the same files.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
: "${NATS_URL:?set NATS_URL to the server, e.g. nats://nats:4222}"
replicas=${NATS_STREAM_REPLICAS:-}
case "$replicas" in
  "" | 1 | 3 | 5) ;;
  *) echo "error: NATS_STREAM_REPLICAS=$replicas; use 1, 3 or 5" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# KV_LEDE_STORIES is the story index, a JetStream key-value bucket (`nats kv` sees it as the
# bucket LEDE_STORIES); its max_age is the story window (--story-window, 72h).
for stream in ARTICLES ARTICLES_ENRICHED ARTICLES_DLQ KV_LEDE_STORIES; do
  config="$dir/stream-$stream.json"
  if [ -n "$replicas" ]; then
    sed "s/\"num_replicas\": *[0-9][0-9]*/\"num_replicas\": $replicas/" "$config" >"$work/stream-$stream.json"
    grep -Eq "\"num_replicas\": $replicas([^0-9]|\$)" "$work/stream-$stream.json" || {
      echo "error: $config has no num_replicas to set" >&2
      exit 1
    }
    config="$work/stream-$stream.json"
  fi
  if nats stream info "$stream" >/dev/null 2>&1; then
    echo "stream $stream exists"
  else
    nats stream add "$stream" --config "$config"
  fi
done

if nats consumer info ARTICLES lede >/dev/null 2>&1; then
  echo "consumer lede on ARTICLES exists"
else
  nats consumer add ARTICLES lede --config "$dir/consumer-lede.json"
fi

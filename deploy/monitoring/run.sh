#!/usr/bin/env bash
# Prometheus + Grafana next to a vtrax run, as two containers with host networking, both
# listening on 127.0.0.1 only (reach them through an ssh tunnel from elsewhere):
#
#   bash deploy/monitoring/run.sh local     # a `vtrax train --metrics-export-port 8080` on this host
#   bash deploy/monitoring/run.sh aws       # on the head node of `ray up deploy/cluster.yaml`
#   bash deploy/monitoring/run.sh onprem    # on the head node of `ray up deploy/cluster-local.yaml`
#   bash deploy/monitoring/run.sh down      # remove both containers
#
# Grafana: http://127.0.0.1:3000 (admin / admin at first login), dashboard "vtrax".
set -euo pipefail

PROMETHEUS_IMAGE="${PROMETHEUS_IMAGE:-prom/prometheus:v2.54.1}"
GRAFANA_IMAGE="${GRAFANA_IMAGE:-grafana/grafana:11.2.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:-local}"

if [ "$target" = "down" ]; then
    docker rm -f vtrax-prometheus vtrax-grafana
    exit 0
fi
config="$here/prometheus/$target.yml"
if [ ! -f "$config" ]; then
    echo "usage: $0 local|aws|onprem|down (there is no $config)" >&2
    exit 2
fi

docker run -d --name vtrax-prometheus --net=host \
    -v "$config:/etc/prometheus/prometheus.yml:ro" \
    "$PROMETHEUS_IMAGE" --config.file=/etc/prometheus/prometheus.yml --web.listen-address=127.0.0.1:9090
docker run -d --name vtrax-grafana --net=host \
    -e GF_SERVER_HTTP_ADDR=127.0.0.1 \
    -v "$here/grafana/provisioning:/etc/grafana/provisioning:ro" \
    -v "$here/grafana/dashboards:/var/lib/grafana/dashboards:ro" \
    "$GRAFANA_IMAGE"
echo "Prometheus: http://127.0.0.1:9090   Grafana: http://127.0.0.1:3000 (dashboard 'vtrax')"

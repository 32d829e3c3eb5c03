"""Prometheus metrics, one registry per app (so tests and several apps in a process don't collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sitecast_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "sitecast_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.ws_connections = Gauge("sitecast_ws_connections", "open WebSocket connections", registry=self.registry)
        self.ws_deliveries = Counter(
            "sitecast_ws_frames_sent", "WebSocket frames handed to sockets", registry=self.registry
        )
        self.ws_evictions = Counter("sitecast_ws_evictions", "slow WebSocket clients closed", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

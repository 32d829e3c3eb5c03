"""Live media: WHIP ingest, HLS writer, WHEP fan-out (encode at most once)."""

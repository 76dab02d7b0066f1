//! Endpoints of a cluster, read straight from EndpointSlices or Endpoints (EDS bypasses the DAG).

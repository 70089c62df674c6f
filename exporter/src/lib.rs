//! mote-exporter

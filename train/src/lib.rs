//! mote-train

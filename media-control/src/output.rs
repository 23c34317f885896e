//! The only place that prints: the grid clients' shared [`Output`] (text for people, pretty JSON
//! with `--json`, one `media-control: ...` line on stderr for every failure).

pub use grid_proto::console::Output;

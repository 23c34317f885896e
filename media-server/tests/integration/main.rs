//! Integration tests of `media-server`: one test binary.

mod default_application;

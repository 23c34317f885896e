//! What every process's `GET /metrics` shares: the OpenMetrics content type, the encoding of a
//! registry, and helpers for collectors that read state at scrape time from its owner.
//!
//! Counters and histograms updated where their event happens are `prometheus-client` metrics
//! registered once; gauges that mirror state a process already owns (servers by state, channel
//! listeners) come from a [`Collector`] that reads that owner during the scrape, so there is no
//! second copy to drift.

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

pub use prometheus_client;
pub use prometheus_client::collector::Collector;

/// The content type of a scrape (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The whole exposition of `registry`, ending with `# EOF`.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

/// `registry`'s metrics, then those `now` reads at scrape time, then `# EOF`.
pub fn encode_with(registry: &Registry, now: impl Collector) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::text::encode_registry(&mut out, registry)?;
    let mut scraped = Registry::default();
    scraped.register_collector(Box::new(now));
    prometheus_client::encoding::text::encode_registry(&mut out, &scraped)?;
    prometheus_client::encoding::text::encode_eof(&mut out)?;
    Ok(out)
}

/// Histograms are registered with their unit in the name (`_seconds`) and no `# UNIT` line:
/// OpenMetrics allows one, but some parsers refuse a unit on a histogram.
///
/// Buckets for latencies from 0.1 ms to about 6.5 s (doubling).
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.000_1, 2.0, 17)
}

/// Registers a counter family with one label whose values are all known up front (so each
/// series shows from the first scrape, at 0), and returns one counter per value, in their order,
/// for the owner to count where the event happens.
pub fn register_counters<const N: usize>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    label: &'static str,
    values: [&'static str; N],
) -> [Counter; N] {
    let family = Family::<[(&'static str, &'static str); 1], Counter>::default();
    let counters = values.map(|value| family.get_or_create(&[(label, value)]).clone());
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, family),
        None => registry.register(name, help, family),
    }
    counters
}

/// Writes one gauge family of `(labels, value)` series found at scrape time.
pub fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl IntoIterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one gauge without labels.
pub fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: impl EncodeGaugeValue,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?)
}

/// Writes one counter without labels, kept by the state's owner; `name` without `_total`.
pub fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(value).encode(encoder.encode_descriptor(
        name,
        help,
        unit,
        MetricType::Counter,
    )?)
}

/// Writes one counter family of `(labels, total)` series kept by the state's owner; `name`
/// without `_total` (the encoder adds it).
pub fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed;

    impl Collector for Fixed {
        fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
            gauges(
                &mut encoder,
                "things",
                "Things by colour.",
                None,
                [([("colour", "red")], 2u32), ([("colour", "blue")], 0u32)],
            )?;
            gauge(
                &mut encoder,
                "depth",
                "How deep.",
                Some(&Unit::Seconds),
                1.5,
            )?;
            counters(
                &mut encoder,
                "hits",
                "Hits by door.",
                None,
                [([("door", "front")], 7)],
            )?;
            counter(&mut encoder, "misses", "Misses.", None, 2)
        }
    }

    #[test]
    fn an_exposition_ends_with_eof_and_names_units_and_totals() {
        let mut registry = Registry::default();
        let c: Counter = Counter::default();
        c.inc_by(3);
        registry.register("requests", "Requests.", c);
        registry.register_collector(Box::new(Fixed));
        let text = encode(&registry).unwrap();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        let mut fixed = Registry::default();
        let c: Counter = Counter::default();
        c.inc_by(3);
        fixed.register("requests", "Requests.", c);
        assert_eq!(encode_with(&fixed, Fixed).unwrap(), text);
        for line in [
            "# TYPE requests counter",
            "requests_total 3",
            "things{colour=\"red\"} 2",
            "things{colour=\"blue\"} 0",
            "# UNIT depth_seconds seconds",
            "depth_seconds 1.5",
            "hits_total{door=\"front\"} 7",
            "misses_total 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn registered_counters_show_every_value_from_the_start() {
        let mut registry = Registry::default();
        let [track, _channel] = register_counters(
            &mut registry,
            "failovers",
            "Failovers.",
            None,
            "playing",
            ["track", "channel"],
        );
        let [_, audio] = register_counters(
            &mut registry,
            "served",
            "Bytes served.",
            Some(Unit::Bytes),
            "route",
            ["chunk", "audio"],
        );
        track.inc();
        audio.inc_by(10);
        let text = encode(&registry).unwrap();
        for line in [
            "failovers_total{playing=\"track\"} 1",
            "failovers_total{playing=\"channel\"} 0",
            "# UNIT served_bytes bytes",
            "served_bytes_total{route=\"chunk\"} 0",
            "served_bytes_total{route=\"audio\"} 10",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}

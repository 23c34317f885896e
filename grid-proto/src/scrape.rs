//! A parsed `GET /metrics` (feature `scrape`): what the tests and the benchmark read a scrape
//! with, through an independent OpenMetrics parser, so a malformed exposition fails them.

use openmetrics_parser::{
    MetricFamily, MetricsExposition, OpenMetricsType, OpenMetricsValue, Sample,
};

/// One exposition, parsed.
#[derive(Debug)]
pub struct Scrape {
    exposition: MetricsExposition<OpenMetricsType, OpenMetricsValue>,
}

/// A histogram series: its count, sum and cumulative buckets (upper bound, count).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSeries {
    /// Observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// `(le, cumulative count)`, the last one `+Inf`.
    pub buckets: Vec<(f64, u64)>,
}

impl Scrape {
    /// Parses an OpenMetrics text exposition (it must end with `# EOF`).
    pub fn parse(text: &str) -> Result<Self, String> {
        openmetrics_parser::openmetrics::parse_openmetrics(text)
            .map(|exposition| Self { exposition })
            .map_err(|e| format!("not an OpenMetrics exposition: {e}"))
    }

    /// The names of every family.
    pub fn families(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .exposition
            .families
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }

    /// The type of a family (`counter`, `gauge`, `histogram`, ...).
    pub fn kind(&self, family: &str) -> Option<String> {
        self.family(family).map(|f| f.family_type.to_string())
    }

    /// The unit a family declares (empty without `# UNIT`).
    pub fn unit(&self, family: &str) -> Option<&str> {
        self.family(family).map(|f| f.unit.as_str())
    }

    fn family(&self, family: &str) -> Option<&MetricFamily<OpenMetricsType, OpenMetricsValue>> {
        self.exposition.families.get(family)
    }

    /// Every sample of `family` whose labels include `labels`.
    fn samples<'a>(
        &'a self,
        family: &str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample<OpenMetricsValue>> + 'a {
        self.family(family)
            .into_iter()
            .flat_map(|f| f.iter_samples())
            .filter(move |s| {
                s.get_labelset().is_ok_and(|set| {
                    labels
                        .iter()
                        .all(|(k, v)| set.get_label_value(k) == Some(*v))
                })
            })
    }

    /// The value of the one gauge or counter series of `family` with exactly these label
    /// values among its labels; `None` if there is none or several.
    pub fn value(&self, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.samples(family, labels).filter_map(|s| match &s.value {
            OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => Some(n.as_f64()),
            OpenMetricsValue::Counter(c) => Some(c.value.as_f64()),
            _ => None,
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The sum over every gauge or counter series of `family` matching `labels`.
    pub fn sum(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(family, labels)
            .filter_map(|s| match &s.value {
                OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => Some(n.as_f64()),
                OpenMetricsValue::Counter(c) => Some(c.value.as_f64()),
                _ => None,
            })
            .sum()
    }

    /// How many series of `family` match `labels`.
    pub fn series(&self, family: &str, labels: &[(&str, &str)]) -> usize {
        self.samples(family, labels).count()
    }

    /// The one histogram series of `family` matching `labels`.
    pub fn histogram(&self, family: &str, labels: &[(&str, &str)]) -> Option<HistogramSeries> {
        let mut found = self.samples(family, labels).filter_map(|s| match &s.value {
            OpenMetricsValue::Histogram(h) => Some(HistogramSeries {
                count: h.count.unwrap_or(0),
                sum: h.sum.map_or(0.0, |n| n.as_f64()),
                buckets: h
                    .buckets
                    .iter()
                    .map(|b| (b.upper_bound, b.count.as_f64() as u64))
                    .collect(),
            }),
            _ => None,
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_prometheus_client_writes() {
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::histogram::Histogram;
        use prometheus_client::registry::{Registry, Unit};
        let mut registry = Registry::default();
        let hits = Family::<Vec<(String, String)>, Counter>::default();
        hits.get_or_create(&vec![("door".into(), "front".into())])
            .inc_by(4);
        registry.register("hits", "Hits by door.", hits);
        let wait = Histogram::new([0.1, 1.0]);
        wait.observe(0.05);
        wait.observe(0.5);
        registry.register("wait_seconds", "Waits.", wait);
        let sent = Counter::<u64>::default();
        sent.inc_by(9);
        registry.register_with_unit("sent", "Sent.", Unit::Bytes, sent);
        let text = crate::metrics::encode(&registry).unwrap();
        let scrape = Scrape::parse(&text).unwrap();
        assert_eq!(scrape.families(), ["hits", "sent_bytes", "wait_seconds"]);
        assert_eq!(scrape.unit("sent_bytes"), Some("bytes"));
        assert_eq!(scrape.value("sent_bytes", &[]), Some(9.0));
        assert_eq!(scrape.kind("hits").as_deref(), Some("counter"));
        assert_eq!(scrape.value("hits", &[("door", "front")]), Some(4.0));
        assert_eq!(scrape.value("hits", &[("door", "back")]), None);
        let h = scrape.histogram("wait_seconds", &[]).unwrap();
        assert_eq!((h.count, h.sum), (2, 0.55));
        assert_eq!(h.buckets, [(0.1, 1), (1.0, 2), (f64::INFINITY, 2)]);
    }

    #[test]
    fn refuses_what_is_not_openmetrics() {
        assert!(Scrape::parse("x 1\n").is_err(), "no # EOF");
        assert!(Scrape::parse("# TYPE x counter\nx_total{a=\"1\" 2\n# EOF\n").is_err());
    }
}

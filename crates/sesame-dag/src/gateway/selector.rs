//! Label selectors of namespaces: which namespaces' routes a listener takes
//! (`allowedRoutes.namespaces.selector`) and which namespaces' ListenerSets a Gateway takes
//! (`allowedListeners.namespaces.selector`), decided on the Namespace objects' labels.

use std::collections::{BTreeMap, BTreeSet};

use sesame_gateway_api::gateway::{
    GatewayAllowedListenersNamespacesSelector, GatewayListenersAllowedRoutesNamespacesSelector,
};

use crate::Snapshot;

/// A Kubernetes label selector, as the generated Gateway API types spell it in several places.
pub(crate) trait LabelSelector {
    /// `matchLabels`.
    fn match_labels(&self) -> Option<&BTreeMap<String, String>>;
    /// `matchExpressions`, as (key, operator, values).
    fn expressions(&self) -> Vec<(&str, &str, &[String])>;
}

/// Implements [`LabelSelector`] for generated selector types of the same shape.
macro_rules! label_selector {
    ($($selector:ty),*) => {$(
        impl LabelSelector for $selector {
            fn match_labels(&self) -> Option<&BTreeMap<String, String>> {
                self.match_labels.as_ref()
            }

            fn expressions(&self) -> Vec<(&str, &str, &[String])> {
                self.match_expressions
                    .iter()
                    .flatten()
                    .map(|e| (e.key.as_str(), e.operator.as_str(), e.values.as_deref().unwrap_or_default()))
                    .collect()
            }
        }
    )*};
}

label_selector!(
    GatewayListenersAllowedRoutesNamespacesSelector,
    GatewayAllowedListenersNamespacesSelector
);

/// The names of the namespaces whose labels `selector` matches. A selector with an operator
/// that is not `In`, `NotIn`, `Exists` or `DoesNotExist`, or an `In`/`NotIn` without values,
/// matches none (the API server refuses such selectors elsewhere; here they select nothing
/// rather than everything). An empty selector matches every namespace, as in Kubernetes.
pub(crate) fn selected_namespaces(
    snapshot: &Snapshot,
    selector: &impl LabelSelector,
) -> BTreeSet<String> {
    let empty = BTreeMap::new();
    snapshot
        .namespaces
        .iter()
        .filter(|(_, ns)| {
            let labels = ns.metadata.labels.as_ref().unwrap_or(&empty);
            matches(selector, labels)
        })
        .map(|(name, _)| name.name.to_string())
        .collect()
}

/// Whether `labels` satisfy every `matchLabels` entry and every `matchExpressions` term.
fn matches(selector: &impl LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .match_labels()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    by_label
        && selector
            .expressions()
            .into_iter()
            .all(|(key, operator, values)| {
                let value = labels.get(key);
                match operator {
                    "In" => !values.is_empty() && value.is_some_and(|v| values.contains(v)),
                    "NotIn" => !values.is_empty() && value.is_none_or(|v| !values.contains(v)),
                    "Exists" => values.is_empty() && value.is_some(),
                    "DoesNotExist" => values.is_empty() && value.is_none(),
                    _ => false,
                }
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_gateway_api::gateway::GatewayListenersAllowedRoutesNamespacesSelectorMatchExpressions as Expression;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> Expression {
        Expression {
            key: key.to_string(),
            operator: operator.to_string(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn selector(
        match_labels: &[(&str, &str)],
        expressions: Vec<Expression>,
    ) -> GatewayListenersAllowedRoutesNamespacesSelector {
        GatewayListenersAllowedRoutesNamespacesSelector {
            match_labels: (!match_labels.is_empty()).then(|| labels(match_labels)),
            match_expressions: (!expressions.is_empty()).then_some(expressions),
        }
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let ns = labels(&[("env", "prod"), ("team", "web")]);
        assert!(matches(&selector(&[], vec![]), &ns));
        assert!(matches(&selector(&[("env", "prod")], vec![]), &ns));
        assert!(!matches(&selector(&[("env", "dev")], vec![]), &ns));
        assert!(matches(
            &selector(
                &[("env", "prod")],
                vec![expression("team", "In", &["web", "api"])]
            ),
            &ns
        ));
        assert!(!matches(
            &selector(
                &[("env", "prod")],
                vec![expression("team", "NotIn", &["web"])]
            ),
            &ns
        ));
        assert!(matches(
            &selector(&[], vec![expression("tier", "NotIn", &["gold"])]),
            &ns
        ));
        assert!(matches(
            &selector(&[], vec![expression("team", "Exists", &[])]),
            &ns
        ));
        assert!(!matches(
            &selector(&[], vec![expression("team", "DoesNotExist", &[])]),
            &ns
        ));
        assert!(matches(
            &selector(&[], vec![expression("tier", "DoesNotExist", &[])]),
            &ns
        ));
    }

    #[test]
    fn malformed_expressions_select_nothing() {
        let ns = labels(&[("env", "prod")]);
        for e in [
            expression("env", "Equals", &["prod"]),
            expression("env", "In", &[]),
            expression("env", "Exists", &["prod"]),
        ] {
            assert!(!matches(&selector(&[], vec![e.clone()]), &ns), "{e:?}");
        }
    }
}

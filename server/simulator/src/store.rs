//! The mutable world behind the APIs: customers (generated at start), customer directories
//! (generated on first access, then mutated), application consents and the write log.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::data::{generate_directory, Customer, Directory};
use crate::idempotency::WriteLog;

/// One grant of an application consent.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationGrant {
    pub enterprise_application_id: Uuid,
    pub scope: String,
}

/// A CPV application consent in a customer tenant.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent {
    pub application_id: Uuid,
    pub display_name: Option<String>,
    pub application_grants: Vec<ApplicationGrant>,
}

pub(crate) struct Store {
    seed: u64,
    customers: Vec<Customer>,
    index: HashMap<Uuid, usize>,
    directories: HashMap<Uuid, Directory>,
    consents: BTreeMap<Uuid, Vec<Consent>>,
    pub writes: WriteLog,
}

impl Store {
    pub(crate) fn new(seed: u64, customers: Vec<Customer>) -> Self {
        let index = customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.tenant_id, i))
            .collect();
        Self {
            seed,
            customers,
            index,
            directories: HashMap::new(),
            consents: BTreeMap::new(),
            writes: WriteLog::default(),
        }
    }

    pub(crate) fn customers(&self) -> &[Customer] {
        &self.customers
    }

    pub(crate) fn customer(&self, id: &Uuid) -> Option<&Customer> {
        self.index.get(id).and_then(|i| self.customers.get(*i))
    }

    /// The customer's directory, generated from the seed on first access.
    pub(crate) fn directory(&mut self, id: &Uuid) -> Option<&mut Directory> {
        let customer = self.index.get(id).and_then(|i| self.customers.get(*i))?;
        let seed = self.seed;
        Some(
            self.directories
                .entry(*id)
                .or_insert_with(|| generate_directory(seed, customer)),
        )
    }

    /// Customers whose directory has been generated.
    pub(crate) fn materialised(&self) -> impl Iterator<Item = (&Uuid, &Directory)> {
        self.directories.iter()
    }

    /// Ends the customer's DAP relationship (idempotent: a second removal keeps the first end).
    pub(crate) fn remove_dap(&mut self, id: &Uuid, now: OffsetDateTime) -> Option<&Customer> {
        let i = *self.index.get(id)?;
        let customer = self.customers.get_mut(i)?;
        if customer.dap_enabled || customer.end.is_none() {
            customer.end = Some(now);
        }
        customer.dap_enabled = false;
        Some(customer)
    }

    pub(crate) fn consent(&self, customer: &Uuid, application: &Uuid) -> Option<&Consent> {
        self.consents
            .get(customer)?
            .iter()
            .find(|c| c.application_id == *application)
    }

    pub(crate) fn add_consent(&mut self, customer: Uuid, consent: Consent) {
        self.consents.entry(customer).or_default().push(consent);
    }

    /// Removes a consent; false when there was none.
    pub(crate) fn remove_consent(&mut self, customer: &Uuid, application: &Uuid) -> bool {
        let Some(list) = self.consents.get_mut(customer) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| c.application_id != *application);
        let removed = list.len() != before;
        if list.is_empty() {
            self.consents.remove(customer);
        }
        removed
    }

    pub(crate) fn consents(&self) -> &BTreeMap<Uuid, Vec<Consent>> {
        &self.consents
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use crate::data::generate_customers;

    #[test]
    fn directories_are_materialised_on_demand_and_keep_mutations() {
        let now = OffsetDateTime::now_utc();
        let customers = generate_customers(1, 5, now);
        let id = customers[2].tenant_id;
        let mut store = Store::new(1, customers);
        assert_eq!(store.materialised().count(), 0);
        let user = store.directory(&id).unwrap().users[0].id;
        store.directory(&id).unwrap().roles[0]
            .members
            .retain(|m| *m != user);
        assert!(!store.directory(&id).unwrap().roles[0]
            .members
            .contains(&user));
        assert_eq!(store.materialised().count(), 1);
        assert!(store.directory(&Uuid::nil()).is_none());
    }

    #[test]
    fn removing_dap_sets_the_end_once() {
        let now = OffsetDateTime::now_utc();
        let customers = generate_customers(1, 50, now);
        let id = customers.iter().find(|c| c.dap_enabled).unwrap().tenant_id;
        let mut store = Store::new(1, customers);
        let first_end = store.remove_dap(&id, now).unwrap().end;
        assert_eq!(first_end, Some(now));
        let later = now + time::Duration::hours(1);
        let c = store.remove_dap(&id, later).unwrap();
        assert!(!c.dap_enabled);
        assert_eq!(c.end, Some(now));
    }
}

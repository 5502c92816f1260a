//! The store seam, by concern. `Store` is all of them: callers hold an `Arc<dyn Store>` and
//! call any method on it; a backend implements each part in a file of its own.

mod events;
mod people;
mod records;
mod reminders;
mod tenants;
mod turns;

pub use events::EventStore;
pub use people::PeopleStore;
pub use records::RecordStore;
pub use reminders::ReminderStore;
pub use tenants::TenantStore;
pub use turns::TurnStore;

/// Everything Switchboard keeps. Implemented for every type that implements each part.
pub trait Store: TenantStore + TurnStore + ReminderStore + PeopleStore + RecordStore + EventStore + 'static {}

impl<T: TenantStore + TurnStore + ReminderStore + PeopleStore + RecordStore + EventStore + 'static> Store for T {}

/// The parts of [`Store`] by name, for code that holds a concrete backend (not a `dyn Store`)
/// and calls its methods: `use switchboard_store::prelude::*;`.
pub mod prelude {
    pub use super::{
        EventStore as _, PeopleStore as _, RecordStore as _, ReminderStore as _, TenantStore as _, TurnStore as _,
    };
}

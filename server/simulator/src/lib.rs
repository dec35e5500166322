//! Partner Center + Entra ID simulator.

//! report
use crate::load::SessionData;
use crate::steps::Visit;
pub fn html(_d: &SessionData, _v: &[Visit], _s: Option<&scenario::Scenario>) -> String {
    String::new()
}

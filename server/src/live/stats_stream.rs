//! The statistics streams: one VM's points (its page's live graph) or the host's (the host
//! page), one `point` event per collection round, from [`Stats::subscribe`]. A page subscribes
//! to what it draws, so a dashboard of 1,000 VMs never receives 1,000 series; the cards'
//! gauges ride the main event stream instead (`vm_gauges`).
//!
//! [`Stats::subscribe`]: crate::stats::Stats::subscribe

use std::sync::Arc;

use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::stats::sampler::Round;

/// What a statistics stream follows.
#[derive(Debug, Clone)]
pub enum Series {
    Vm(Uuid),
    Host(String),
}

impl Series {
    /// This round's point of the series, as JSON (`None`: the VM is not running, or the host
    /// is another).
    fn point(&self, round: &Round) -> Option<String> {
        match self {
            Series::Vm(uuid) => round
                .vms
                .iter()
                .find(|sample| sample.labels.uuid == *uuid)
                .map(|sample| json!(sample.point).to_string()),
            Series::Host(host) if *host == round.host => {
                round.host_point.map(|point| json!(point).to_string())
            }
            Series::Host(_) => None,
        }
    }
}

/// The `point` payloads of one series, until `shutdown`. A stream that fell behind skips to
/// the newest round: a graph wants the present, not a backlog.
pub fn points(
    rounds: broadcast::Receiver<Arc<Round>>,
    series: Series,
    shutdown: CancellationToken,
) -> impl Stream<Item = String> + Send {
    futures::stream::unfold(
        (rounds, series, shutdown),
        |(mut rounds, series, shutdown)| async move {
            loop {
                let received = tokio::select! {
                    () = shutdown.cancelled() => return None,
                    received = rounds.recv() => received,
                };
                match received {
                    Ok(round) => {
                        if let Some(point) = series.point(&round) {
                            return Some((point, (rounds, series, shutdown)));
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
}

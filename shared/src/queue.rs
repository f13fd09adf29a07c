//! A queue's client: built on first use (a function that only reads never builds it), with the
//! time-outs and retries of a queue send, its calls counted as every AWS call is.

use crate::config::OnFirstUse;
use crate::timeouts::QUEUE_SEND;

pub fn queue_client(sdk: &aws_config::SdkConfig) -> OnFirstUse<aws_sdk_sqs::Client> {
    let sdk = sdk.clone();
    OnFirstUse::new(move || {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&sdk)
                .timeout_config(QUEUE_SEND.timeouts())
                .retry_config(QUEUE_SEND.retries())
                .interceptor(crate::calls::CountCalls)
                .build(),
        )
    })
}

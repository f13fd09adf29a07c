//! Every error code the service answers, with its HTTP status and title: the one list.
//! `docs/ERRORS.md` says when each is answered; a test holds the two equal (every code
//! documented with this status, nothing documented that is not here).

use http::StatusCode;

macro_rules! codes {
    ($($variant:ident = $code:literal, $status:ident, $title:literal;)*) => {
        /// A stable machine code (`code` in every problem+json, and in each field error).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the order of the list.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as clients see it (`invalid_amount`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)*
                }
            }

            /// The problem's `title`: what happened, the same every time (the `detail` says
            /// what of this request).
            pub const fn title(self) -> &'static str {
                match self {
                    $(Code::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    Unauthorized = "unauthorized", UNAUTHORIZED, "Missing or invalid credentials";
    RouteNotFound = "route_not_found", NOT_FOUND, "No such route";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed on this route";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "Request body too large";
    MalformedJson = "malformed_json", BAD_REQUEST, "Malformed JSON";
    DuplicateField = "duplicate_field", BAD_REQUEST, "A member appears twice in the body";
    UnknownField = "unknown_field", BAD_REQUEST, "A member the request does not know";
    IdempotencyKeyMissing = "idempotency_key_missing", BAD_REQUEST, "The Idempotency-Key header is required";
    InvalidIdempotencyKey = "invalid_idempotency_key", BAD_REQUEST, "The Idempotency-Key header is not valid";
    IdempotencyKeyInUse = "idempotency_key_in_use", CONFLICT, "A request with this Idempotency-Key is still being processed";
    IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY, "This Idempotency-Key was used with a different request";
    InvalidMerchantOrderId = "invalid_merchant_order_id", BAD_REQUEST, "The merchant_order_id is not valid";
    InvalidAmount = "invalid_amount", BAD_REQUEST, "The amount is not valid";
    InvalidCustomerFee = "invalid_customer_fee", BAD_REQUEST, "The customer_fee is not valid";
    InvalidDate = "invalid_date", BAD_REQUEST, "date must be a JST day as YYYY-MM-DD";
    InvalidCustomerRef = "invalid_customer_ref", BAD_REQUEST, "The customer_ref is not valid";
    CustomerRefNotFound = "customer_ref_not_found", UNPROCESSABLE_ENTITY, "None of your joint cards carries this customer_ref";
    JointCardNotFound = "joint_card_not_found", NOT_FOUND, "Joint card not found";
    InvalidDueDate = "invalid_due_date", BAD_REQUEST, "The due_date is not valid";
    InvalidDescription = "invalid_description", BAD_REQUEST, "The description is not valid";
    InvalidStoreDescription = "invalid_store_description", BAD_REQUEST, "The store_description is not valid";
    InvalidRepeat = "invalid_repeat", BAD_REQUEST, "The repeat terms are not valid";
    RepeatNotSupported = "repeat_not_supported", BAD_REQUEST, "Only a card's bill can be a repeat bill";
    InvalidCustomer = "invalid_customer", BAD_REQUEST, "The customer is not valid";
    InvalidEmail = "invalid_email", BAD_REQUEST, "The mail address is not valid";
    InvalidNumber = "invalid_number", BAD_REQUEST, "Not a valid Smart Pit number";
    SmartpitNumberRequired = "smartpit_number_required", BAD_REQUEST, "A Smart Pit number is required";
    NumberNotFound = "number_not_found", UNPROCESSABLE_ENTITY, "This Smart Pit number was never issued";
    NumberNotUsable = "number_not_usable", UNPROCESSABLE_ENTITY, "This Smart Pit number cannot take this bill";
    NumberExpired = "number_expired", UNPROCESSABLE_ENTITY, "This sheet number has expired";
    DuplicateOrderId = "duplicate_order_id", CONFLICT, "An invoice with this merchant_order_id exists already";
    InvoiceNotFound = "invoice_not_found", NOT_FOUND, "Invoice not found";
    NothingToChange = "nothing_to_change", BAD_REQUEST, "The request changes nothing";
    InvoiceNotChangeable = "invoice_not_changeable", CONFLICT, "Only a registered bill before its deadline can be changed or moved";
    InvoiceChanged = "invoice_changed", CONFLICT, "The bill changed while this request ran";
    SameNumber = "same_number", UNPROCESSABLE_ENTITY, "The bill is on this number already";
    InvoiceNotCancellable = "invoice_not_cancellable", CONFLICT, "Only a registered invoice can be cancelled";
    InvalidStatus = "invalid_status", BAD_REQUEST, "Unknown status filter";
    InvalidLimit = "invalid_limit", BAD_REQUEST, "limit must be 1 to 100";
    InvalidCursor = "invalid_cursor", BAD_REQUEST, "The cursor is not valid";
    InvalidCount = "invalid_count", BAD_REQUEST, "The count is not valid";
    JointCardsIncomplete = "joint_cards_incomplete", SERVICE_UNAVAILABLE, "The batch could not be completed now";
    InvalidStoreCode = "invalid_store_code", BAD_REQUEST, "The store_code is not valid";
    InvalidRequest = "invalid_request", BAD_REQUEST, "The request is not valid";
    ChannelNotSupported = "channel_not_supported", BAD_REQUEST, "The store chain's channel does not take this request";
    InvalidBarcode = "invalid_barcode", BAD_REQUEST, "Not a Smart Pit barcode";
    StaleBarcode = "stale_barcode", BAD_REQUEST, "This sheet does not match the bill";
    BillingNotFound = "billing_not_found", NOT_FOUND, "請求情報が存在しません";
    InvalidStoreTransactionId = "invalid_store_transaction_id", BAD_REQUEST, "The store_transaction_id is not valid";
    InvalidInvoiceIds = "invalid_invoice_ids", BAD_REQUEST, "The invoice_ids are not valid";
    MixedNumbers = "mixed_numbers", UNPROCESSABLE_ENTITY, "One payment covers the bills of one Smart Pit number";
    AmountMismatch = "amount_mismatch", UNPROCESSABLE_ENTITY, "The amount is not the total of the invoices";
    InvoiceNotPayable = "invoice_not_payable", CONFLICT, "An invoice can no longer be paid";
    NothingToResend = "nothing_to_resend", CONFLICT, "The bill has no mail to send again";
    StoreTransactionReused = "store_transaction_reused", UNPROCESSABLE_ENTITY, "This store_transaction_id was used for a different payment";
    PaymentVoided = "payment_voided", CONFLICT, "This payment was voided";
    PaymentNotFound = "payment_not_found", NOT_FOUND, "Payment not found";
    VoidWindowClosed = "void_window_closed", CONFLICT, "A payment can be voided only on the day it was made (JST)";
    InvoiceHeld = "invoice_held", CONFLICT, "A kiosk slip holds this bill for payment at the register";
    SlipNotValid = "slip_not_valid", CONFLICT, "The slip does not hold this bill";
    InvalidSlipId = "invalid_slip_id", BAD_REQUEST, "The slip_id is not valid";
    PaymentInProgress = "payment_in_progress", CONFLICT, "The customer is paying this bill at a store now";
    PaymentSettled = "payment_settled", CONFLICT, "The chain's settlement confirmed this payment; it can no longer be voided";
    InvalidStoreChain = "invalid_store_chain", BAD_REQUEST, "The store_chain is not valid";
    UnknownStoreChain = "unknown_store_chain", UNPROCESSABLE_ENTITY, "No such store chain";
    InvoiceNotExpirable = "invoice_not_expirable", CONFLICT, "Only a registered invoice that no slip holds can expire";
    InvoiceNotPaid = "invoice_not_paid", CONFLICT, "The invoice is not paid";
    TooManyFailedLookups = "too_many_failed_lookups", TOO_MANY_REQUESTS, "Too many lookups of numbers that have no bill";
    ResendLimit = "resend_limit", TOO_MANY_REQUESTS, "The bill's mail was sent again as often as a day allows";
    InvalidWebhookUrl = "invalid_webhook_url", BAD_REQUEST, "The webhook url is not valid";
    InvalidEventType = "invalid_event_type", BAD_REQUEST, "Unknown event type";
    WebhookEndpointNotFound = "webhook_endpoint_not_found", NOT_FOUND, "Webhook endpoint not found";
    EventNotFound = "event_not_found", NOT_FOUND, "Event not found";
    PayoutNotFound = "payout_not_found", NOT_FOUND, "Payout not found";
    InvalidReason = "invalid_reason", BAD_REQUEST, "The reason is not valid";
    InvoiceNotRefundable = "invoice_not_refundable", CONFLICT, "The bill cannot be refunded now";
    RefundExceedsPaid = "refund_exceeds_paid", UNPROCESSABLE_ENTITY, "The bill's refunds would exceed what the customer paid";
    RefundNotFound = "refund_not_found", NOT_FOUND, "Refund not found";
    RefundDetailsGiven = "refund_details_given", CONFLICT, "The refund has its customer's account already";
    RefundNotCancellable = "refund_not_cancellable", CONFLICT, "Only a refund not yet in a transfer file can be cancelled";
    ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE, "Service temporarily unavailable";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "Internal error";
}

impl Code {
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/ERRORS.md and this list say the same: each code once, with its status.
    #[test]
    fn the_list_and_errors_md_agree() {
        let documented = super::super::documented_codes();
        let mut listed = std::collections::BTreeMap::new();
        for c in Code::ALL {
            assert!(
                listed
                    .insert(c.as_str().to_string(), c.status().as_u16())
                    .is_none(),
                "{c} listed twice"
            );
        }
        let mut missing_here = Vec::new();
        for (code, status) in &documented {
            match listed.get(code) {
                Some(s) => assert_eq!(s, status, "{code}: status here and in ERRORS.md"),
                None => missing_here.push(code.clone()),
            }
        }
        let undocumented: Vec<_> = listed
            .keys()
            .filter(|c| !documented.contains_key(*c))
            .collect();
        assert!(
            missing_here.is_empty(),
            "in ERRORS.md only: {missing_here:?}"
        );
        assert!(
            undocumented.is_empty(),
            "not in ERRORS.md: {undocumented:?}"
        );
        assert!(Code::ALL.len() > 70);
        assert_eq!(
            Code::parse("billing_not_found"),
            Some(Code::BillingNotFound)
        );
    }
}

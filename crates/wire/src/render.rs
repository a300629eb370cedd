//! Domain → JSON: the inverse of the parser. `parse(render(d)) == d` is a tested property, so a
//! stored document always parses back to the declaration it recorded.

use domain::{
    BuyerIdentity, CbecOrder, Charge, Declaration, DeclarationKind, Direction, Enterprise,
    GoodsItem, OriginProof, OriginProofItem, Preference, Quantity,
};

use crate::declaration::*;

fn enterprise(e: &Enterprise) -> EnterpriseDto {
    EnterpriseDto {
        credit_code: Some(e.credit_code.as_str().to_owned()),
        customs_code: Some(e.customs_code.as_str().to_owned()),
        name: Some(e.name.clone()),
    }
}

fn charge(c: &Charge) -> ChargeDto {
    match c {
        Charge::Amount { amount, currency } => ChargeDto {
            kind: Some("amount".into()),
            amount: Some((*amount).into()),
            currency: Some(currency.to_string()),
            ..ChargeDto::default()
        },
        Charge::RatePercent(percent) => ChargeDto {
            kind: Some("rate".into()),
            percent: Some((*percent).into()),
            ..ChargeDto::default()
        },
        Charge::PerUnit {
            amount,
            currency,
            unit,
        } => ChargeDto {
            kind: Some("per_unit".into()),
            amount: Some((*amount).into()),
            currency: Some(currency.to_string()),
            unit: Some(unit.to_string()),
            ..ChargeDto::default()
        },
    }
}

fn quantity(q: &Quantity) -> QuantityDto {
    QuantityDto {
        value: Some(q.value.into()),
        unit: Some(q.unit.to_string()),
    }
}

fn item(i: &GoodsItem) -> GoodsItemDto {
    GoodsItemDto {
        commodity_code: Some(i.commodity_code.to_string()),
        description: Some(i.description.clone()),
        quantity: Some(quantity(&i.quantity)),
        statutory_quantities: i.statutory_quantities.iter().map(quantity).collect(),
        unit_price: i.unit_price.map(Into::into),
        amount: Some(i.amount.into()),
        origin_country: Some(i.origin_country.to_string()),
        levy_mode: i.levy_mode.as_ref().map(ToString::to_string),
        preference: i.preference.as_ref().map(preference),
    }
}

fn preference(p: &Preference) -> PreferenceDto {
    PreferenceDto {
        agreement: Some(p.agreement.code().into()),
        proof_number: Some(p.proof_number.clone()),
        proof_item: Some(NumText(p.proof_item.to_string())),
    }
}

fn origin_proof_item(i: &OriginProofItem) -> OriginProofItemDto {
    OriginProofItemDto {
        hs6: Some(i.hs6.to_string()),
        criterion: Some(i.criterion.code().into()),
        quantity: Some(quantity(&i.quantity)),
        fob: i.value.as_ref().map(|v| v.fob.into()),
        fob_currency: i.value.as_ref().map(|v| v.currency.to_string()),
        vnm: i.value.as_ref().and_then(|v| v.vnm).map(Into::into),
    }
}

fn origin_proof(p: &OriginProof) -> OriginProofDto {
    OriginProofDto {
        agreement: Some(p.agreement.code().into()),
        kind: Some(p.kind.name().into()),
        number: Some(p.number.clone()),
        issue_date: Some(p.issue_date.to_string()),
        retroactive: p.retroactive,
        exporter: Some(p.exporter.clone()),
        country_of_origin: Some(p.country_of_origin.to_string()),
        direct_consignment_evidence: p.direct_consignment_evidence,
        items: p.items.iter().map(origin_proof_item).collect(),
    }
}

fn cbec_order(o: &CbecOrder) -> CbecOrderDto {
    let (id_number, id_hash, id_masked) = match &o.buyer.identity {
        BuyerIdentity::ResidentId(number) => {
            (Some(IdNumberText(number.as_str().to_owned())), None, None)
        }
        BuyerIdentity::Protected { hash, masked } => {
            (None, Some(hash.clone()), Some(masked.clone()))
        }
    };
    CbecOrderDto {
        order_ref: Some(o.order_ref.clone()),
        platform: Some(o.platform.clone()),
        buyer: Some(CbecBuyerDto {
            name: Some(o.buyer.name.clone()),
            // The only kind so far: a protected identity does not record its kind yet.
            id_type: Some(domain::BUYER_ID_TYPES[0].into()),
            id_number,
            id_hash,
            id_masked,
        }),
        indivisible_item: o.indivisible_item,
    }
}

fn postal_parcel(p: &domain::PostalParcel) -> PostalParcelDto {
    PostalParcelDto {
        carrier: Some(p.carrier.code().to_owned()),
        sender_country: Some(p.sender_country.to_string()),
        recipient: Some(p.recipient.clone()),
        articles: p
            .articles
            .iter()
            .map(|a| PostalArticleDto {
                description: Some(a.description.clone()),
                rate_class: Some(NumText(a.rate_class.number().to_string())),
                quantity: Some(NumText(a.quantity.to_string())),
                unit_dutiable_price: Some(NumText(a.unit_dutiable_price.to_string())),
                indivisible: a.indivisible,
            })
            .collect(),
    }
}

impl From<&Declaration> for DeclarationDto {
    fn from(d: &Declaration) -> Self {
        let summary_number = match &d.kind {
            DeclarationKind::Full { summary_number } => Some(summary_number.to_string()),
            _ => None,
        };
        let t = &d.transport;
        DeclarationDto {
            direction: Some(
                if d.direction == Direction::Import {
                    "import"
                } else {
                    "export"
                }
                .into(),
            ),
            kind: Some(d.kind.name().into()),
            summary_number,
            procedure: Some(d.procedure.to_string()),
            levy_nature: d.levy_nature.as_ref().map(ToString::to_string),
            office_of_lodging: Some(d.office_of_lodging.to_string()),
            office_of_entry_exit: Some(d.office_of_entry_exit.to_string()),
            declarant: Some(enterprise(&d.declarant)),
            trader: Some(enterprise(&d.trader)),
            overseas_party: Some(OverseasPartyDto {
                name: Some(d.overseas_party.name.clone()),
                country: d.overseas_party.country.as_ref().map(ToString::to_string),
            }),
            transport: Some(TransportDto {
                mode: Some(t.mode.to_string()),
                means_name: t.means_name.clone(),
                voyage: t.voyage.clone(),
                document: Some(TransportDocumentDto {
                    kind: Some(t.document.kind.name().into()),
                    number: Some(t.document.number.clone()),
                }),
                departure_date: t.departure_date.map(|d| d.to_string()),
                arrival_date: t.arrival_date.map(|d| d.to_string()),
                containers: t.containers.iter().map(ToString::to_string).collect(),
            }),
            dispatch_country: d.dispatch_country.as_ref().map(ToString::to_string),
            destination_country: d.destination_country.as_ref().map(ToString::to_string),
            port: d.port.as_ref().map(|p| p.as_str().to_owned()),
            transaction_terms: d.transaction_terms.as_ref().map(ToString::to_string),
            invoice: Some(InvoiceDto {
                number: d.invoice.number.clone(),
                date: d.invoice.date.map(|d| d.to_string()),
                currency: Some(d.invoice.currency.to_string()),
                amount: Some(d.invoice.amount.into()),
            }),
            freight: d.freight.as_ref().map(charge),
            insurance: d.insurance.as_ref().map(charge),
            other_costs: d.other_costs.as_ref().map(charge),
            packages: Some(PackagesDto {
                count: Some(NumText(d.packages.count.to_string())),
                package_type: Some(d.packages.package_type.to_string()),
            }),
            gross_mass_kg: Some(d.gross_mass_kg.into()),
            net_mass_kg: d.net_mass_kg.map(Into::into),
            documents: d
                .documents
                .iter()
                .map(|doc| DocumentDto {
                    document_type: Some(doc.document_type.to_string()),
                    number: Some(doc.number.clone()),
                })
                .collect(),
            origin_proofs: d.origin_proofs.iter().map(origin_proof).collect(),
            cbec_order: d.cbec_order.as_ref().map(cbec_order),
            postal_parcel: d.postal_parcel.as_ref().map(postal_parcel),
            items: d.items.iter().map(item).collect(),
        }
    }
}

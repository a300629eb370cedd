//! `customs search`: declarations by bill of lading (提运单号), container number, invoice number,
//! commodity code (a prefix of any item's) and trader name (a part of it, in any case), the
//! filters combined, newest first, a page at a time. The same listing as `GET /v1/declarations`:
//! the trade finds only the declarations it may see.

use clap::Args;
use clearance::{ClearanceConfig, ListFilter};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::desk::{Access, Site, told};

#[derive(Args)]
pub struct SearchArgs {
    /// Bill of lading / air waybill number (提运单号, transport.document.number), exactly.
    #[arg(long)]
    pub bill_of_lading: Option<String>,
    /// Container number (ISO 6346, e.g. MSCU1234565), exactly.
    #[arg(long)]
    pub container: Option<String>,
    /// Commercial invoice number (invoice.number), exactly.
    #[arg(long)]
    pub invoice: Option<String>,
    /// Commodity code (HS), or its first digits, of any goods item, e.g. 8517.
    #[arg(long)]
    pub commodity_code: Option<String>,
    /// A part of the trader's name (境内收发货人), in any case; Chinese too.
    #[arg(long)]
    pub trader_name: Option<String>,
    /// accepted, released or cancelled.
    #[arg(long)]
    pub status: Option<String>,
    /// Declarations per page (the listing's page size).
    #[arg(long)]
    pub limit: Option<usize>,
    /// The next page: the cursor printed under the previous one.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Bearer token of the user searching (else the token file).
    #[arg(long, env = "CUSTOMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the page as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(site: &Site, config: ClearanceConfig, args: SearchArgs) -> anyhow::Result<()> {
    let utc_offset = config.utc_offset;
    let filter = ListFilter {
        status: args.status,
        bill_of_lading: args.bill_of_lading,
        container: args.container,
        invoice: args.invoice,
        commodity_code: args.commodity_code,
        trader_name: args.trader_name,
        cursor: args.cursor,
        limit: args.limit,
        ..ListFilter::default()
    };
    let desk = site.desk(config, args.token, Access::Read).await?;
    let outcome = desk.list(&filter).await;
    desk.close().await;
    let page = outcome.map_err(|e| told(e, None))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&page)?);
        return Ok(());
    }
    print!("{}", render_page(&page, utc_offset));
    Ok(())
}

/// A page of declarations as a table, and how to read the next one.
pub fn render_page(page: &wire::DeclarationPage, utc_offset: chrono::FixedOffset) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "number 海关编号",
        "status 状态",
        "lodged 申报时间",
        "trader 境内收发货人",
        "bill of lading 提运单号",
        "invoice 发票号",
    ]);
    for view in &page.declarations {
        let d = &view.declaration;
        let trader = d
            .trader
            .as_ref()
            .and_then(|t| t.name.clone())
            .unwrap_or_default();
        let bill = d
            .transport
            .as_ref()
            .and_then(|t| t.document.as_ref())
            .and_then(|doc| doc.number.clone())
            .unwrap_or_default();
        let invoice = d
            .invoice
            .as_ref()
            .and_then(|i| i.number.clone())
            .unwrap_or_default();
        table.add_row([
            view.number.clone(),
            view.status.clone(),
            http_api::shown_time(utc_offset, &view.lodged_at),
            trader,
            bill,
            invoice,
        ]);
    }
    let mut out = format!(
        "{table}\n{} declaration(s) / 份报关单\n",
        page.declarations.len()
    );
    if let Some(cursor) = &page.next_cursor {
        out.push_str(&format!("more / 下一页: --cursor {cursor}\n"));
    }
    out
}

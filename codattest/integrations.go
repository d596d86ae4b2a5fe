package codattest

import (
	"sort"
	"strings"
)

// Source types (Integration.sourceType and Connection.sourceType).
const (
	SourceAccounting = "Accounting"
	SourceBanking    = "Banking"
	SourceBankFeed   = "BankFeed"
	SourceCommerce   = "Commerce"
	SourceExpense    = "Expense"
	SourceOther      = "Other"
	SourceUnknown    = "Unknown"
)

// builtinIntegrations are the platform keys that appear in Codat's public
// documentation (see the project's reference notes on platform keys).
var builtinIntegrations = []struct {
	key, name, sourceType string
	offline               bool
}{
	// Accounting
	{"qhyg", "QuickBooks Online", SourceAccounting, false},
	{"ndsk", "QuickBooks Online Sandbox", SourceAccounting, false},
	{"pqsw", "QuickBooks Desktop", SourceAccounting, true},
	{"gbol", "Xero", SourceAccounting, false},
	{"fbrh", "FreeAgent", SourceAccounting, false},
	{"vxvy", "FreshBooks", SourceAccounting, false},
	{"pbtz", "Wave", SourceAccounting, false},
	{"rwuv", "Zoho Books", SourceAccounting, false},
	{"tgff", "Sage Accounting", SourceAccounting, false},
	{"akxx", "Oracle NetSuite", SourceAccounting, false},
	{"trji", "Dynamics 365 Business Central", SourceAccounting, false},
	{"rqwd", "Dynamics 365 Finance & Operations", SourceAccounting, false},
	{"knfz", "Sage Intacct", SourceAccounting, false},
	{"pdvj", "MYOB Business", SourceAccounting, false},
	{"qudb", "Exact (Netherlands)", SourceAccounting, false},
	{"pbbf", "Exact (UK)", SourceAccounting, false},
	{"hbql", "Sage 50 (UK)", SourceAccounting, true},
	{"jcrp", "Sage 200cloud", SourceAccounting, false},
	{"rvam", "Workday", SourceAccounting, false},
	{"mqjo", "Codat Sandbox", SourceAccounting, false},
	{"wvzu", "IRIS KashFlow", SourceAccounting, false},
	{"jhch", "Clear Books", SourceAccounting, false},
	{"vjms", "Pandle", SourceAccounting, false},
	// Commerce
	{"fztf", "Shopify", SourceCommerce, false},
	{"zsth", "Square", SourceCommerce, false},
	{"xcwv", "Square Sandbox", SourceCommerce, false},
	{"exgd", "Stripe", SourceCommerce, false},
	{"yzth", "Stripe Test", SourceCommerce, false},
	{"ltpp", "WooCommerce", SourceCommerce, false},
	{"qkdj", "Amazon Seller Central", SourceCommerce, false},
	{"vqzp", "BigCommerce", SourceCommerce, false},
	{"fqly", "Clover", SourceCommerce, false},
	{"ugxp", "Zettle", SourceCommerce, false},
	{"aiwb", "Commerce Sandbox", SourceCommerce, false},
	{"ldgh", "Lightspeed K", SourceCommerce, false},
	{"lrhd", "Lightspeed K Sandbox", SourceCommerce, false},
	{"ltes", "Lightspeed K Trial", SourceCommerce, false},
	{"lqai", "Partner Commerce", SourceCommerce, false},
	{"gvom", "PayPal", SourceCommerce, false},
	{"dxfw", "Mollie", SourceCommerce, false},
	{"pshf", "SumUp", SourceCommerce, false},
	{"zgbz", "PrestaShop", SourceCommerce, false},
	// Banking
	{"suuo", "Plaid", SourceBanking, false},
	{"upvr", "TrueLayer", SourceBanking, false},
	{"dxfm", "Basiq", SourceBanking, false},
	// Bank feeds and other
	{"hcws", "QuickBooks Online Bank Feeds", SourceBankFeed, false},
	{"olpr", "Sage Bank Feeds", SourceBankFeed, false},
	{"zpqy", "Data Upload", SourceOther, false},
}

// defaultDataTypes are the data types a data/all refresh queues for a
// connection, by source type, unless WithDataTypes says otherwise. Bank-feed
// and other integrations pull nothing by default.
var defaultDataTypes = map[string][]string{
	SourceAccounting: {"company", "chartOfAccounts", "bankAccounts", "customers", "suppliers", "invoices", "bills", "taxRates"},
	SourceBanking:    {"banking-accounts", "banking-accountBalances", "banking-transactions"},
	SourceCommerce:   {"commerce-companyInfo", "commerce-customers", "commerce-orders", "commerce-payments", "commerce-products", "commerce-transactions"},
}

// dataTypeEnum is the contract's data type enum (DataStatus.dataType and the
// {dataType} path parameter).
var dataTypeEnum = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`accountTransactions balanceSheet bankAccounts bankTransactions billCreditNotes
		billPayments bills cashFlowStatement chartOfAccounts company creditNotes customers directCosts directIncomes
		invoices itemReceipts items journalEntries journals paymentMethods payments profitAndLoss purchaseOrders
		salesOrders suppliers taxRates trackingCategories transfers banking-accountBalances banking-accounts
		banking-transactionCategories banking-transactions commerce-companyInfo commerce-customers commerce-disputes
		commerce-locations commerce-orders commerce-paymentMethods commerce-payments commerce-productCategories
		commerce-products commerce-taxComponents commerce-transactions`) {
		dataTypeEnum[t] = true
	}
}

// isDataType reports whether t is one of the contract's data type keys.
func isDataType(t string) bool { return dataTypeEnum[t] }

// integration is one registry entry with what the fake needs to run it.
type integration struct {
	wire      Integration
	dataTypes []string
	required  []string
	reject    bool
}

var sourceTypes = map[string]bool{SourceAccounting: true, SourceBanking: true, SourceBankFeed: true,
	SourceCommerce: true, SourceExpense: true, SourceOther: true, SourceUnknown: true}

// isPlatformKey reports whether k matches the contract's platformKey: four
// lowercase letters. It is the fake's own, not codat.IsPlatformKey: the fake
// imports nothing of the client it tests.
func isPlatformKey(k string) bool {
	if len(k) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if k[i] < 'a' || k[i] > 'z' {
			return false
		}
	}
	return true
}

func completeIntegration(w Integration) Integration {
	if w.IntegrationID == "" {
		w.IntegrationID = nameUID("integration", w.Key).String()
	}
	if w.SourceID == "" {
		w.SourceID = nameUID("source", w.Key).String()
	}
	if w.SourceType == "" {
		w.SourceType = SourceUnknown
	}
	if w.LogoURL == "" {
		w.LogoURL = "https://static.codat.io/public/officialLogos/Full/" + strings.ToUpper(w.SourceID) + ".png"
	}
	return w
}

func builtinRegistry() map[string]*integration {
	m := make(map[string]*integration, len(builtinIntegrations))
	for _, b := range builtinIntegrations {
		m[b.key] = &integration{
			wire: completeIntegration(Integration{
				Key: b.key, Name: b.name, Enabled: true, SourceType: b.sourceType,
				IsOfflineConnector: b.offline, DataProvidedBy: "Codat",
			}),
			dataTypes: defaultDataTypes[b.sourceType],
		}
	}
	return m
}

// sortedIntegrations returns the registry ordered by name, then key.
func sortedIntegrations(m map[string]*integration) []*integration {
	out := make([]*integration, 0, len(m))
	for _, in := range m {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].wire.Name != out[j].wire.Name {
			return out[i].wire.Name < out[j].wire.Name
		}
		return out[i].wire.Key < out[j].wire.Key
	})
	return out
}

package integrations

// builtinPlatforms returns the platforms every new registry starts with. Each
// platform's file documents its fields and the evidence for them.
func builtinPlatforms() []Platform {
	return []Platform{
		quickBooksOnlinePlatform(),
		quickBooksOnlineSandboxPlatform(),
		xeroPlatform,
		freeAgentPlatform,
		freshBooksPlatform,
		shopifyPlatform,
		wavePlatform,
		zohoBooksPlatform,
		sageAccountingPlatform,
		netSuitePlatform,
		businessCentralPlatform,
		sageIntacctPlatform,
		myobPlatform,
		exactNLPlatform(),
		exactUKPlatform(),
		squarePlatform(),
		squareSandboxPlatform(),
		stripePlatform(),
		stripeTestPlatform(),
		wooCommercePlatform,
		amazonSellerCentralPlatform,
		bigCommercePlatform,
		cloverPlatform,
		zettlePlatform,
		plaidPlatform,
		trueLayerPlatform,
		codatSandboxPlatform,
		sageBankFeedsPlatform,
	}
}

// Fields shared by the OAuth 2.0 platforms. The wire names are the provider's
// access_token / refresh_token in the camelCase of Codat's public example
// ({"accessToken": …, "businessId": …}).

func accessTokenField(required bool) Field {
	return Field{Name: "accessToken", Role: RoleAccessToken, Required: required, Secret: true, Format: FormatToken,
		Doc: "OAuth 2.0 access token"}
}

func refreshTokenField(required bool) Field {
	return Field{Name: "refreshToken", Role: RoleRefreshToken, Required: required, Secret: true, Format: FormatToken,
		Doc: "OAuth 2.0 refresh token"}
}

// expiresAtField is the access token's expiry as an absolute time. Providers
// return expires_in (seconds from issue), which a stored grant can only keep as
// a time; it is optional everywhere.
func expiresAtField() Field {
	return Field{Name: "expiresAt", Role: RoleExpiresAt, Format: FormatExpiry,
		Aliases: []string{"access_token_expires_at"},
		Doc:     "when the access token expires: RFC 3339, or a Unix epoch in seconds or milliseconds"}
}

// oauthFields returns tenant fields followed by accessToken, refreshToken and
// expiresAt.
func oauthFields(tenant ...Field) []Field {
	return append(tenant, accessTokenField(true), refreshTokenField(true), expiresAtField())
}

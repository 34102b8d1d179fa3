--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    key_hash text NOT NULL,
    workspace text NOT NULL,
    created_at bigint NOT NULL,
    id text,
    revoked_at bigint
);


--
-- Name: onced_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.onced_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at bigint NOT NULL
);


--
-- Name: onced_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.onced_state (
    key text NOT NULL,
    value bigint NOT NULL
);


--
-- Name: profiles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.profiles (
    workspace text NOT NULL,
    version text NOT NULL,
    distinct_id text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);


--
-- Name: properties; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.properties (
    workspace text NOT NULL,
    version text NOT NULL,
    distinct_id text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    text text,
    number numeric,
    fractional boolean,
    instant bigint,
    list jsonb,
    list_keys jsonb,
    updated_at bigint NOT NULL,
    request text
);


--
-- Name: property_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.property_types (
    workspace text NOT NULL,
    version text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    registered_at bigint NOT NULL
);


--
-- Name: requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.requests (
    workspace text NOT NULL,
    version text NOT NULL,
    id text NOT NULL,
    received_at bigint NOT NULL,
    results text NOT NULL
);


--
-- Data for Name: api_keys; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.api_keys (key_hash, workspace, created_at, id, revoked_at) FROM stdin;
1a7c5ce1c43937192b14f64ef741b17eede7b97213b1d7e088053293e2db7608	FY12345678	1796211265617	key_c5a04084fd424f5f	\N
27a0d87065dfb2d80ec4ae0bba751f2596feb9e0c880b18f4d8179e9fd21e087	FY12345678	1796211265695	key_0a9b45100747e4f0	1796211265917
\.


--
-- Data for Name: onced_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.onced_migrations (version, name, applied_at) FROM stdin;
1	profiles, properties, types, requests, api keys	1796211265437
2	key ids and revocation	1796211265460
3	provenance, retention, dropped properties	1796211265467
\.


--
-- Data for Name: onced_state; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.onced_state (key, value) FROM stdin;
type_drops	0
\.


--
-- Data for Name: profiles; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.profiles (workspace, version, distinct_id, created_at, updated_at) FROM stdin;
FY12345678	live	Ada Lovelace+1@exämple.com	1796211265479	1796211265479
FY12345678	live	ghost@example.com	1796211265479	1796211265479
FY12345678	test	t1	1796211265479	1796211265479
FY12345678	live	bob	1796211265479	1796211265479
FY00000002	live	other	1796211265479	1796211265479
FY12345678	live	dave	1796211265479	1796211265479
FY12345678	live	carol	1796211265479	1796211265479
FY12345678	live	ada@example.com	1796211265479	1796211265479
\.


--
-- Data for Name: properties; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.properties (workspace, version, distinct_id, name, type, text, number, fractional, instant, list, list_keys, updated_at, request) FROM stdin;
FY12345678	live	Ada Lovelace+1@exämple.com	nick	string	ada	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7b64-9062-106caff56668
FY12345678	live	bob	big	number	\N	9007199254740993	f	\N	\N	\N	1796211265479	01a23688-cfc7-7fb9-a9c5-81cea0a03345
FY12345678	live	bob	when_at	date	2020-09-13T12:26:40Z	\N	\N	1600000000000000	\N	\N	1796211265479	01a23688-cfc7-7fb9-a9c5-81cea0a03345
FY12345678	live	bob	tags	list	\N	\N	\N	\N	[2]	["n:2.0"]	1796211265479	01a23688-cfc7-7fb9-a9c5-81cea0a03345
FY12345678	live	bob	long	string	ééééé	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7bc3-9987-436197ccdb81
FY00000002	live	other	tags	list	\N	\N	\N	\N	["x"]	["s:x"]	1796211265479	01a23688-cfc7-7ce1-beec-db4e3c1ffc9e
FY12345678	live	dave	plan	string	free	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7fd3-b1d8-9c36047c52a8
FY12345678	live	dave	ltv	string	12	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7fd3-b1d8-9c36047c52a8
FY12345678	live	dave	email	string	dave@example.org	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7fd3-b1d8-9c36047c52a8
FY12345678	live	dave	email_domain	string	example.org	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7fd3-b1d8-9c36047c52a8
FY12345678	live	carol	plan	string	enterprise	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7ef9-9cd6-7c4536fd436e
FY12345678	live	ada@example.com	plan	string	pro	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	signup_date	date	2020-10-01	\N	\N	1601510400000000	\N	\N	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	seats	number	\N	23000	f	\N	\N	\N	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	beta	boolean	\N	1	f	\N	\N	\N	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	tags	list	\N	\N	\N	\N	["a", "b"]	["s:a", "s:b"]	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	seen	list	\N	\N	\N	\N	["2020-10-01T18:30:00Z", 5]	["d:1601577000000000", "n:5.0"]	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	email	string	ada@example.com	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	email_domain	string	example.com	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-7314-a358-daf3a980b638
FY12345678	live	ada@example.com	cohort	string	cohort_2024_q1	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-70fe-b26f-6b11f1473f46
FY12345678	live	ada@example.com	city	string	Pune	\N	\N	\N	\N	\N	1796211265479	01a23688-cfc7-70fe-b26f-6b11f1473f46
FY12345678	live	ada@example.com	credits	number	\N	-2.5	t	\N	\N	\N	1796211265479	01a23688-cfc7-70fe-b26f-6b11f1473f46
\.


--
-- Data for Name: property_types; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.property_types (workspace, version, name, type, registered_at) FROM stdin;
FY12345678	live	big	number	1796211265479
FY12345678	live	long	string	1796211265479
FY12345678	live	nick	string	1796211265479
FY12345678	live	score	number	1796211265479
FY12345678	live	tags	list	1796211265479
FY12345678	live	when_at	date	1796211265479
FY00000002	live	tags	list	1796211265479
FY12345678	live	email	string	1796211265479
FY12345678	live	email_domain	string	1796211265479
FY12345678	live	ltv	string	1796211265479
FY12345678	live	plan	string	1796211265479
FY12345678	live	beta	boolean	1796211265479
FY12345678	live	city	string	1796211265479
FY12345678	live	cohort	string	1796211265479
FY12345678	live	credits	number	1796211265479
FY12345678	live	seats	number	1796211265479
FY12345678	live	seen	list	1796211265479
FY12345678	live	signup_date	date	1796211265479
\.


--
-- Data for Name: requests; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.requests (workspace, version, id, received_at, results) FROM stdin;
FY12345678	live	01a23688-cfc7-7b64-9062-106caff56668	1796211265479	[{"distinct_id":"Ada Lovelace+1@exämple.com","op":"set_once","properties":{"plan":{"outcome":"rejected_by_rule","rule":"FY12345678 plans","reason":"plan must be free, pro or enterprise"},"nick":{"outcome":"set"},"cohort":{"outcome":"rejected_by_rule","rule":"cohort naming scheme","reason":"cohort names must match cohort_[a-z0-9_]+"}}}]
FY12345678	live	01a23688-cfc7-7fb9-a9c5-81cea0a03345	1796211265479	[{"distinct_id":"bob","op":"set","properties":{"plan":{"outcome":"rejected_by_rule","rule":"FY12345678 plans","reason":"plan must be free, pro or enterprise"},"big":{"outcome":"set"},"score":{"outcome":"set"},"when_at":{"outcome":"set"}}},{"distinct_id":"bob","op":"append","properties":{"tags":{"outcome":"set"}}},{"distinct_id":"bob","op":"remove","properties":{"tags":{"outcome":"set"}}}]
FY12345678	live	01a23688-cfc7-7bc3-9987-436197ccdb81	1796211265479	[{"distinct_id":"bob","op":"set","properties":{"long":{"outcome":"set"}}},{"distinct_id":"bob","op":"unset","properties":{"score":{"outcome":"unset"}}}]
FY12345678	test	01a23688-cfc7-7f84-92e7-7566ae5692ae	1796211265479	[{"distinct_id":"t1","op":"set","properties":{"plan":{"outcome":"rejected_by_rule","rule":"FY12345678 plans","reason":"plan must be free, pro or enterprise"}}}]
FY12345678	live	01a23688-cfc7-7385-9f02-eb13a362fa97	1796211265479	[{"distinct_id":"ghost@example.com","op":"unset","properties":{"plan":{"outcome":"unchanged"}}}]
FY12345678	live	01a23688-cfc7-7de6-8a36-5a99b57703e3	1796211265479	[{"distinct_id":"ghost@example.com","op":"set_once","properties":{"plan":{"outcome":"rejected_by_rule","rule":"FY12345678 plans","reason":"plan must be free, pro or enterprise"}}}]
FY00000002	live	01a23688-cfc7-7ce1-beec-db4e3c1ffc9e	1796211265479	[{"distinct_id":"other","op":"append","properties":{"tags":{"outcome":"set"}}},{"distinct_id":"other","op":"unset","properties":{"gone":{"outcome":"unchanged"}}}]
FY12345678	live	01a23688-cfc7-7fd3-b1d8-9c36047c52a8	1796211265479	[{"distinct_id":"dave","op":"set_once","properties":{"plan":{"outcome":"set"},"ltv":{"outcome":"set"},"email":{"outcome":"set"},"email_domain":{"outcome":"added_by_rule","rule":"email domain"}}}]
FY12345678	live	01a23688-cfc7-7e69-a2f8-3c588d2f25ef	1796211265479	[{"distinct_id":"nobody","op":"unset","properties":{"plan":{"outcome":"unchanged"}}}]
FY12345678	live	01a23688-cfc7-7ef9-9cd6-7c4536fd436e	1796211265479	[{"distinct_id":"carol","op":"set_once","properties":{"plan":{"outcome":"set"}}}]
FY12345678	live	01a23688-cfc7-7314-a358-daf3a980b638	1796211265479	[{"distinct_id":"ada@example.com","op":"set_once","properties":{"plan":{"outcome":"set"},"signup_date":{"outcome":"set"},"seats":{"outcome":"set"},"ltv":{"outcome":"ignored_type_mismatch","reason":"ltv is registered as string, not number"},"beta":{"outcome":"set"},"tags":{"outcome":"set"},"seen":{"outcome":"set"},"email":{"outcome":"set","rule":"email","reason":"renamed from Email"},"email_domain":{"outcome":"added_by_rule","rule":"email domain"}}}]
FY12345678	live	01a23688-cfc7-70fe-b26f-6b11f1473f46	1796211265479	[{"distinct_id":"ada@example.com","op":"set_once","properties":{"plan":{"outcome":"unchanged"},"cohort":{"outcome":"set"}}},{"distinct_id":"ada@example.com","op":"set","properties":{"city":{"outcome":"set"},"seats":{"outcome":"ignored_type_mismatch","reason":"seats is registered as number, not string"}}},{"distinct_id":"ada@example.com","op":"add","properties":{"credits":{"outcome":"set"}}}]
\.


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (key_hash);


--
-- Name: onced_migrations onced_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.onced_migrations
    ADD CONSTRAINT onced_migrations_pkey PRIMARY KEY (version);


--
-- Name: onced_state onced_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.onced_state
    ADD CONSTRAINT onced_state_pkey PRIMARY KEY (key);


--
-- Name: profiles profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_pkey PRIMARY KEY (workspace, version, distinct_id);


--
-- Name: properties properties_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.properties
    ADD CONSTRAINT properties_pkey PRIMARY KEY (workspace, version, distinct_id, name);


--
-- Name: property_types property_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.property_types
    ADD CONSTRAINT property_types_pkey PRIMARY KEY (workspace, version, name);


--
-- Name: requests requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.requests
    ADD CONSTRAINT requests_pkey PRIMARY KEY (workspace, version, id);


--
-- Name: api_keys_by_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX api_keys_by_id ON public.api_keys USING btree (id);


--
-- Name: requests_by_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_by_time ON public.requests USING btree (received_at);


--
-- PostgreSQL database dump complete
--



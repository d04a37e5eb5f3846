// Package config reads Samsa's broker configuration the way Apache Kafka's
// kafka-server-start.sh reads a broker's, so that an operator can start
// Samsa with the server.properties and the --override flags they already
// have, and so that DescribeConfigs can report topic and broker settings
// as a Kafka 4 broker would.
//
// # Command line and precedence
//
// Samsa is started as
//
//	samsa [server.properties] [--override key=value]...
//
// (ParseArgs). Values are layered, later winning: Samsa's defaults
// (Default), then the properties file, then each --override in order. The
// file is parsed with java.util.Properties rules (ParseProperties), so
// escapes, continuation lines and the "k=v", "k: v", "k v" forms mean
// what they mean to Kafka. Config.Values keeps exactly what the user gave,
// because DescribeConfigs reports those values as STATIC_BROKER_CONFIG.
//
// Defaults are Kafka 4.1's, except three that differ on purpose:
// listeners is PLAINTEXT://localhost:9092 (loopback, where Kafka binds
// every interface), log.dir is ./samsa-data (Kafka's /tmp/kafka-logs is
// wiped by many systems), and the broker id defaults to 0 (Kafka requires
// node.id).
//
// # Unknown and unimplemented keys
//
// Kafka accepts any key, so Samsa must too: a file written for Kafka has
// to start Samsa. Every key the user sets is classified:
//
//   - implemented by Samsa (a Config field, or a broker key that supplies a
//     topic default): its value is checked with Kafka's type and range,
//     and a bad value stops startup with a *ValueError;
//   - known to Kafka 4.1 (or to Kafka 3.9 and removed in 4.0, such as
//     zookeeper.set.acl; zookeeper.connect, zookeeper.session.timeout.ms
//     and zookeeper.connection.timeout.ms are implemented: they make the
//     broker a member of a ZooKeeper-coordinated cluster), or a
//     listener.name.* key, but not implemented:
//     one warning "ignoring <key>: not implemented by Samsa", value not
//     checked;
//   - anything else: one warning "ignoring unknown key <key>".
//
// Listeners follow Kafka too: names are case-insensitive and mapped to a
// security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) by
// listener.security.protocol.map (Config.SecurityProtocols); the
// controller listeners (controller.listener.names) are neither bound nor
// advertised. inter.broker.listener.name or security.inter.broker.protocol
// (at most one; the listener must be advertised) give
// Config.InterBrokerListenerName. The TLS and SASL keys (securityKeys,
// with their listener.name.<listener>.<key> overrides) are implemented by
// package security, which checks them at start-up; ListenerValue resolves
// them per listener. A stock Kafka 3.x (ZooKeeper) or 4.x (KRaft)
// server.properties therefore loads with warnings and no error.
//
// # Topic configs and their defaults
//
// TopicConfigDefs lists Kafka 4.1's topic-level configs, with their types
// and valid values, for validating CreateTopics and AlterConfigs
// (ValidateTopicConfig) and for DescribeConfigs. A topic that does not set
// a config gets it from the broker: each topic config has a chain of
// broker synonyms, tried in order, e.g. retention.ms from log.retention.ms,
// else log.retention.minutes, else log.retention.hours (converted to
// milliseconds), else Kafka's default. TopicDefault resolves a chain and
// says whether the value came from the user's configuration
// (STATIC_BROKER_CONFIG) or from a default (DEFAULT_CONFIG). The derived
// defaults are checked with the topic config's own rules at load time, as
// Kafka does at startup, so log.roll.ms=0 fails because segment.ms must be
// at least 1.
//
// ConfigType and Source use Kafka's wire numbering, identical to
// kmsg.ConfigType and kmsg.ConfigSource.
package config

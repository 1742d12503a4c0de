import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type Config, formatAddress } from './config.js';
import { operatorMqtt } from './credentials.js';

/**
 * A short-lived operator connection (health checks, `verify`, `watch`): MQTT 5, a unique
 * client id naming its purpose, no reconnection unless `extra` asks for it.
 */
export function connectOperator(
  config: Config,
  purpose: string,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://${formatAddress(config.mqtt)}`, {
    ...operatorMqtt(config),
    clientId: `factory-${purpose}-${randomUUID().slice(0, 8)}`,
    protocolVersion: 5,
    connectTimeout: 3_000,
    reconnectPeriod: 0,
    ...extra,
  });
}

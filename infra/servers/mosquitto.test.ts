import { describe, expect, it } from 'vitest';
import { renderAcl } from './mosquitto.js';

describe('renderAcl', () => {
  it('confines each gateway to its own line; only the bridge writes confirmations, each line reads its own', () => {
    const acl = renderAcl({
      mqtt: { username: 'operator', password: 'x'.repeat(12) },
      mqttBridge: { username: 'bridge', password: 'y'.repeat(12) },
      mqttGateways: {
        'plant-1/line-1': { username: 'gw.plant-1.line-1', password: 'z'.repeat(12) },
        'plant-1/line-2': { username: 'gw.plant-1.line-2', password: 'w'.repeat(12) },
      },
    });
    const blocks = acl.split('\n\n').map((b) => b.replace(/^#.*\n/, '').trim());
    expect(blocks).toContain('user operator\ntopic readwrite #');
    expect(blocks).toContain('user bridge\ntopic read factory/#\ntopic write factory/_confirm/#');
    expect(blocks).toContain(
      'user gw.plant-1.line-1\ntopic write factory/plant-1/line-1/#\ntopic read factory/_confirm/plant-1/line-1',
    );
    expect(blocks).toContain(
      'user gw.plant-1.line-2\ntopic write factory/plant-1/line-2/#\ntopic read factory/_confirm/plant-1/line-2',
    );
    expect(acl).not.toMatch(/pattern|anonymous/);
  });
});

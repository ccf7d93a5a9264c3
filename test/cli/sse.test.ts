import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/cli/sse.js';

describe('SseParser', () => {
  it('parses events split across chunks anywhere', () => {
    const text = 'event: line\nid: 7\ndata: {"a":1}\n\n: heartbeat\n\nevent: end\ndata: x\n\n';
    for (let cut = 1; cut < text.length; cut += 1) {
      const p = new SseParser();
      const messages = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(messages).toEqual([
        { event: 'line', data: '{"a":1}', id: '7' },
        { event: 'end', data: 'x', id: '7' },
      ]);
    }
  });

  it('handles CRLF and CR line ends, multi-line data, and a missing event name', () => {
    const p = new SseParser();
    expect(p.push('data: a\r\ndata:b\r\rdata: c\r')).toEqual([
      { event: 'message', data: 'a\nb', id: null },
    ]);
    expect(p.push('\n\n')).toEqual([{ event: 'message', data: 'c', id: null }]);
  });

  it('drops messages without data and ignores unknown fields', () => {
    const p = new SseParser();
    expect(p.push('event: ping\n\nretry: 100\nfoo: bar\n\n')).toEqual([]);
  });
});

import { connect, type Socket } from 'node:net';

/**
 * A POST /metrics/interaction whose body is half sent, over a socket of its own: in flight for the server (its headers
 * are read) until `finish` sends the rest. `response` resolves with the raw response once the server closes the socket.
 */
export function halfSentRequest(url: string, eventId: string, userId: string) {
  const body = JSON.stringify({ event_id: eventId, user_id: userId, interaction_type: 'login' });
  const { port } = new URL(url);
  let response = '';
  let socket!: Socket;
  const closed = new Promise<string>((resolve) => {
    socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`POST /metrics/interaction HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`);
      socket.write(body.slice(0, 20));
    });
    socket.on('data', (data) => void (response += data.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(response));
  });
  return { finish: () => socket.write(body.slice(20)), response: closed };
}

import { Public } from '@bulwark/nestjs';
import { Controller, Get } from '@nestjs/common';

@Controller('health')
@Public()
export class HealthController {
  @Get()
  ok() {
    return { ok: true };
  }
}

/**
 * docs/migrate-from-casl.md, BEFORE: NestJS authorization with @casl/ability, as in the NestJS
 * documentation's CASL recipe: an ability factory, a PoliciesGuard with @CheckPolicies for the
 * subject type, and instance checks inside the handlers. Authentication is the app's own JWT
 * guard (`req.user` = `{ id, roles }`).
 */
import {
  AbilityBuilder,
  createMongoAbility,
  type ExtractSubjectType,
  type InferSubjects,
  type MongoAbility,
} from '@casl/ability';
import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Param,
  ParseIntPipe,
  Patch,
  Req,
  SetMetadata,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { jwtVerify } from 'jose';
import { Article, ArticlesRepository, titleOf } from './articles';

export const JWT_KEY = Symbol('JWT_KEY');
interface User {
  id: string;
  roles: string[];
}

/** The app's authentication: a bearer JWT (HS256), `req.user` from `sub` and `roles`. */
@Injectable()
class JwtGuard implements CanActivate {
  constructor(@Inject(JWT_KEY) private readonly key: Uint8Array) {}
  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string>; user?: User }>();
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token === undefined) throw new UnauthorizedException();
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      req.user = { id: String(payload.sub), roles: (payload.roles as string[]) ?? [] };
      return true;
    } catch {
      throw new UnauthorizedException();
    }
  }
}

// #region ability
enum Action {
  Manage = 'manage',
  Read = 'read',
  Update = 'update',
  Delete = 'delete',
}
type Subjects = InferSubjects<typeof Article> | 'all';
type AppAbility = MongoAbility<[Action, Subjects]>;

@Injectable()
export class CaslAbilityFactory {
  createForUser(user: User): AppAbility {
    const { can, cannot, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
    if (user.roles.includes('admin')) can(Action.Manage, 'all');
    else can(Action.Read, 'all');
    can(Action.Update, Article, { authorId: user.id });
    cannot(Action.Delete, Article, { isPublished: true });
    return build({ detectSubjectType: (item) => item.constructor as ExtractSubjectType<Subjects> });
  }
}

type PolicyHandler = (ability: AppAbility) => boolean;
const CHECK_POLICIES = 'check_policy';
const CheckPolicies = (...handlers: PolicyHandler[]) => SetMetadata(CHECK_POLICIES, handlers);

@Injectable()
export class PoliciesGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(CaslAbilityFactory) private readonly factory: CaslAbilityFactory,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const handlers = this.reflector.get<PolicyHandler[]>(CHECK_POLICIES, context.getHandler()) ?? [];
    const { user } = context.switchToHttp().getRequest<{ user: User }>();
    const ability = this.factory.createForUser(user);
    return handlers.every((handler) => handler(ability));
  }
}
// #endregion ability

// #region controller
@Controller('articles')
@UseGuards(JwtGuard, PoliciesGuard)
export class ArticlesController {
  constructor(
    @Inject(ArticlesRepository) private readonly articles: ArticlesRepository,
    @Inject(CaslAbilityFactory) private readonly factory: CaslAbilityFactory,
  ) {}

  @Get()
  @CheckPolicies((ability) => ability.can(Action.Read, Article))
  list() {
    return this.articles.all();
  }

  @Patch(':id')
  @CheckPolicies((ability) => ability.can(Action.Update, Article))
  update(@Param('id', ParseIntPipe) id: number, @Body() body: unknown, @Req() req: { user: User }) {
    const article = this.articles.find(id);
    if (article === undefined) throw new NotFoundException();
    // The type-level check above cannot see the owner: the instance check is the handler's job.
    if (!this.factory.createForUser(req.user).can(Action.Update, article)) throw new ForbiddenException();
    article.title = titleOf(body);
    return article;
  }

  @Delete(':id')
  @HttpCode(204)
  @CheckPolicies((ability) => ability.can(Action.Delete, Article))
  remove(@Param('id', ParseIntPipe) id: number, @Req() req: { user: User }) {
    const article = this.articles.find(id);
    if (article === undefined) throw new NotFoundException();
    if (!this.factory.createForUser(req.user).can(Action.Delete, article)) throw new ForbiddenException();
    this.articles.delete(id);
  }
}
// #endregion controller

@Module({})
export class BeforeModule {
  static register(jwtKey: Uint8Array) {
    return {
      module: BeforeModule,
      controllers: [ArticlesController],
      providers: [ArticlesRepository, CaslAbilityFactory, JwtGuard, { provide: JWT_KEY, useValue: jwtKey }],
    };
  }
}
